//! Placeholder, replaced by the macro implementation.
use proc_macro::TokenStream;
/// `#[task]`
#[proc_macro_attribute]
pub fn task(_a: TokenStream, i: TokenStream) -> TokenStream { i }
/// `#[rcos::main]`
#[proc_macro_attribute]
pub fn main(_a: TokenStream, i: TokenStream) -> TokenStream { i }
/// `#[derive(Message)]`
#[proc_macro_derive(Message, attributes(message))]
pub fn message(_i: TokenStream) -> TokenStream { TokenStream::new() }

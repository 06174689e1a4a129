//! `#[rcos::main]` returning a `Result`, with `?`, `return` and options.

use std::error::Error;

#[rcos::main(workers = 2)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let n: u32 = "42".parse()?;
    if n != 42 {
        return Err("wrong number".into());
    }
    let t = rcos::spawn(move |_| async move { n + 1 });
    let out = t.finish().await;
    assert_eq!(out.get::<u32>(), Some(43));
    Ok(())
}

//! The rcos examples live beside this file; run one with `cargo run --example NAME`.
//! This library only gives the examples a package, and the networked examples a few
//! helpers (the demo secret, command-line arguments, the "listening at" line); it uses
//! only the standard library.

use std::fmt::Display;
use std::io::Write;

/// The secret the networked examples share when `RCOS_SECRET` is not set.
///
/// **For demos only**: it is published here, so it protects nothing. Real nodes get a
/// secret of their own, at least 16 random bytes, from a private file or the
/// environment (see the book's "Security" chapter).
pub const DEMO_SECRET: &str = "rcos demo secret: public, for the examples only";

/// The shared secret of the networked examples: the value of the environment variable
/// `RCOS_SECRET` if it is set, else [`DEMO_SECRET`].
pub fn secret() -> Vec<u8> {
    match std::env::var_os("RCOS_SECRET") {
        Some(value) => value.into_encoded_bytes(),
        None => DEMO_SECRET.as_bytes().to_vec(),
    }
}

/// Prints `listening at ADDRESS` and flushes standard output, so that a person, a script
/// or a test reading the program's output learns where to connect at once.
pub fn print_listening(location: impl Display) {
    println!("listening at {location}");
    let _ = std::io::stdout().flush();
}

/// Command-line arguments of the networked examples: positional arguments, `--NAME
/// VALUE` options (for the names the program declares) and `--NAME` flags.
#[derive(Debug, Default)]
pub struct Args {
    /// The arguments that are neither options nor flags, in order.
    pub positional: Vec<String>,
    options: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Args {
    /// Parses the program's arguments; `with_values` names the options that take a value
    /// (`&["port", "clients"]` for `--port 9705 --clients 2`). Exits with a usage message
    /// if such an option has no value.
    pub fn parse(with_values: &[&str]) -> Args {
        Args::from_iter(std::env::args().skip(1), with_values).unwrap_or_else(|error| {
            eprintln!("{error}");
            std::process::exit(2)
        })
    }

    /// Parses `args` (without the program name).
    ///
    /// # Errors
    /// An option that takes a value came last, without one.
    pub fn from_iter(
        args: impl IntoIterator<Item = String>,
        with_values: &[&str],
    ) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                Some(name) if with_values.contains(&name) => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("--{name} needs a value"))?;
                    parsed.options.push((name.to_string(), value));
                }
                Some(name) => parsed.flags.push(name.to_string()),
                None => parsed.positional.push(arg),
            }
        }
        Ok(parsed)
    }

    /// The value of `--name`, if given (the last one, if given several times).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `--name` parsed as a `T`, or `default` if it is not given. Exits with
    /// a message if it does not parse.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.option(name) {
            None => default,
            Some(text) => text.parse().unwrap_or_else(|_| {
                eprintln!("--{name}: cannot make sense of {text:?}");
                std::process::exit(2)
            }),
        }
    }

    /// Whether the flag `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    /// The `n`th positional argument parsed as a `T`; exits with `usage` if it is
    /// missing or does not parse.
    pub fn required<T: std::str::FromStr>(&self, n: usize, usage: &str) -> T {
        match self.positional.get(n).map(|text| text.parse()) {
            Some(Ok(value)) => value,
            _ => {
                eprintln!("usage: {usage}");
                std::process::exit(2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_flags_and_positional_arguments() {
        let args = [
            "127.0.0.1:9705",
            "--port",
            "0",
            "--monitor",
            "--clients",
            "3",
        ]
        .map(String::from);
        let args = Args::from_iter(args, &["port", "clients"]).unwrap();
        assert_eq!(args.positional, ["127.0.0.1:9705"]);
        assert_eq!(args.parsed("port", 1u16), 0);
        assert_eq!(args.parsed("clients", 1usize), 3);
        assert_eq!(args.parsed("missing", 7u8), 7);
        assert!(args.flag("monitor"));
        assert!(!args.flag("port"));
        assert!(Args::from_iter(["--port".to_string()], &["port"]).is_err());
    }
}

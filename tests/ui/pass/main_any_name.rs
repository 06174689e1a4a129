//! `#[rcos::main]` on a fn that is not `main`.

#[rcos::main(workers = 1, crate = "rcos")]
pub async fn run() -> u8 {
    rcos::spawn(|_| async { 5u8 })
        .finish()
        .await
        .get::<u8>()
        .unwrap_or(0)
}

fn main() {
    assert_eq!(run(), 5);
}

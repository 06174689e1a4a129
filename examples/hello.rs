//! A first rcos program: one task that greets the names it is sent, until it is sent
//! an empty one. The Getting started chapter of the book walks through it.
//!
//! Run it with `cargo run --example hello`.

// ANCHOR: all
use rcos::{TaskRef, task};

/// A task: greets each name it receives; an empty name ends it. Returns how many
/// people it greeted.
#[task]
async fn greeter(task: TaskRef, greeting: String) -> u32 {
    let mut greeted = 0;
    while let Ok(name) = task.receive_type::<String>().await {
        if name.is_empty() {
            break;
        }
        println!("{greeting}, {name}!");
        greeted += 1;
    }
    greeted
}

#[rcos::main]
async fn main() {
    let greeter_task = greeter::spawn("Hello".to_string());
    for name in ["Ada", "Grace", ""] {
        greeter_task
            .send(name.to_string())
            .expect("the greeter is alive");
    }
    let greeted = greeter_task.finish().await.get::<u32>();
    println!("greeted {} people", greeted.unwrap_or(0));
}
// ANCHOR_END: all

//! Channels subscribed to channels: a hierarchy that mirrors an organisation. A
//! message sent to a channel reaches its subscribers and, through the channels among
//! them, theirs; never the channels above. `deliver` counts the tasks reached, a
//! subscription that would close a cycle is refused, and a subscriber that has ended is
//! dropped.
//!
//! pycos describes hierarchies in its tutorial but has no example of them (and does not
//! detect cycles: its recursion runs out of stack).
//!
//! Run it with `cargo run --example channel_hierarchy`.

use std::time::Duration;

use rcos::channel::{Channel, ChannelError};
use rcos::{TaskRef, task};

// ANCHOR: member
/// One person: keeps every announcement (a `String`) until told to go home (a `()`,
/// sent directly), then returns them.
#[task]
async fn member(task: TaskRef) -> Vec<String> {
    let mut heard = Vec::new();
    while let Ok(msg) = task.receive().await {
        match msg.downcast::<String>() {
            Ok(text) => heard.push(text),
            Err(_) => break, // `()`: go home
        }
    }
    heard
}
// ANCHOR_END: member

/// Builds the hierarchy, sends along it, and shows what is refused.
async fn run() -> Result<(), ChannelError> {
    // ANCHOR: build
    let company = Channel::new("company")?;
    let engineering = Channel::new("engineering")?;
    let sales = Channel::new("sales")?;
    // company -> engineering, sales: what the company hears, both departments hear.
    company.subscribe(&engineering).await?;
    company.subscribe(&sales).await?;

    let ceo = member::spawn();
    let (ada, linus) = (member::spawn(), member::spawn());
    let zig = member::spawn();
    company.subscribe(&ceo).await?;
    engineering.subscribe(&ada).await?;
    engineering.subscribe(&linus).await?;
    sales.subscribe(&zig).await?;
    // ANCHOR_END: build

    // ANCHOR: deliver
    let wait = Duration::from_secs(1);
    // `deliver` returns the number of tasks reached, summed through nested channels.
    let n = company
        .deliver("all hands at ten".to_string(), wait, 0)
        .await?;
    println!("company reached {n} people");
    let n = engineering
        .deliver("the build is green".to_string(), wait, 0)
        .await?;
    println!("engineering reached {n} people (not the CEO, not sales)");
    let n = sales.deliver("quarter closed".to_string(), wait, 0).await?;
    println!("sales reached {n} person");
    // ANCHOR_END: deliver

    // ANCHOR: cycle
    // engineering already hears company: company hearing engineering would loop.
    match engineering.subscribe(&company).await {
        Err(ChannelError::Cycle) => println!("engineering -> company: refused, a cycle"),
        other => unreachable!("a cycle must be refused: {other:?}"),
    }
    match sales.subscribe(&sales).await {
        Err(error) => println!("sales -> sales: refused: {error}"),
        Ok(()) => unreachable!("a channel cannot subscribe to itself"),
    }
    // ANCHOR_END: cycle

    // ANCHOR: ended
    // Linus leaves (his task ends). He stays subscribed until the next message finds
    // his mailbox gone; then he is dropped, and not counted.
    linus.send(()).expect("linus is alive");
    let said = linus
        .finish()
        .await
        .value()
        .and_then(|v| v.take::<Vec<String>>());
    println!("linus heard {:?}", said.unwrap_or_default());
    println!("engineering has {} subscribers", engineering.subscribers());
    let n = company
        .deliver("welcome, Grace".to_string(), wait, 0)
        .await?;
    println!(
        "company reached {n} people; engineering now has {} subscriber",
        engineering.subscribers()
    );
    // ANCHOR_END: ended

    for (name, who) in [("ceo", &ceo), ("ada", &ada), ("zig", &zig)] {
        who.send(()).expect("still alive");
        let heard = who
            .finish()
            .await
            .value()
            .and_then(|v| v.take::<Vec<String>>());
        println!("{name} heard {:?}", heard.unwrap_or_default());
    }
    Ok(())
}

#[rcos::main]
async fn main() {
    run().await.expect("the channels work");
}

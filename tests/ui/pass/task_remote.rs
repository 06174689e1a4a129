//! `remote` tasks: message arguments and outputs, registered by name.

use rcos::{Message, Runtime, TaskRef, task};
use serde::{Deserialize, Serialize};

/// A job.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
struct Job {
    id: u64,
    data: Vec<u8>,
}

/// A result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
enum Outcome {
    Done(u64),
    Failed(String),
}

/// Runs jobs for other nodes.
#[task(remote, name = "ui.worker")]
async fn worker(task: TaskRef, job: Job, retries: Option<u8>) -> Outcome {
    let _ = (task, retries);
    if job.data.is_empty() {
        Outcome::Failed("empty".into())
    } else {
        Outcome::Done(job.id)
    }
}

/// No arguments, `()` output.
#[task(remote)]
async fn ping(task: TaskRef) {
    let _ = task;
}

fn main() {
    let names = rcos::task::remote_task_names();
    assert!(
        names.contains(&"ui.worker") && names.contains(&"ping"),
        "{names:?}"
    );
    let rt = Runtime::new().unwrap();
    let job = Job {
        id: 7,
        data: vec![1],
    };
    assert_eq!(
        worker::spawn_on(&rt, job, None).value().get::<Outcome>(),
        Some(Outcome::Done(7))
    );
    assert!(ping::spawn_on(&rt).value().is_returned());
}

//! Task references and replies inside messages survive encoding.

use std::time::Duration;

use rcos::{Request, TaskRef};
use rcos_tests::{det, run};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).unwrap();
    ciborium::from_reader(bytes.as_slice()).unwrap()
}

#[test]
fn a_task_ref_survives_a_round_trip_and_still_works() {
    let rt = det(20);
    let echo = rt.spawn(|task| async move {
        task.receive()
            .await
            .map(|e| e.downcast::<u32>().unwrap_or(0))
    });
    let back: TaskRef = {
        let _in_rt = rt.enter();
        round_trip(&echo)
    };
    assert_eq!(back, echo);
    assert_eq!(back.to_string(), echo.to_string());
    assert!(back.is_local() && back.is_alive());
    back.send(17u32).unwrap();
    assert_eq!(
        echo.value()
            .value()
            .unwrap()
            .take::<Result<u32, rcos::Interrupt>>()
            .unwrap()
            .unwrap(),
        17
    );

    // Read back after the task ended, it is a reference to an ended task.
    let ended: TaskRef = {
        let _in_rt = rt.enter();
        round_trip(&echo)
    };
    assert_eq!(ended, echo);
    assert!(!ended.is_alive());
    assert!(ended.send(1u32).unwrap_err().is_ended());

    // Read back in another runtime, it refers to the first one's task and does not
    // resolve there.
    let other = det(21);
    let foreign: TaskRef = {
        let _in_other = other.enter();
        round_trip(&echo)
    };
    assert_eq!(foreign, echo);
    assert!(!foreign.is_local());
    assert_eq!(
        foreign.send(1u32).unwrap_err().kind(),
        rcos::SendErrorKind::Unreachable
    );
}

#[test]
fn a_request_survives_a_round_trip_and_its_reply_reaches_the_caller() {
    let rt = det(22);
    let answer = run(&rt, async {
        // The server re-encodes each request it gets (as a node would on the wire) and
        // answers the decoded copy.
        let server = rcos::spawn(|task| async move {
            let env = task.receive().await?;
            let req = env.downcast::<Request<String>>().unwrap();
            let copy: Request<String> = round_trip(&req);
            drop(req); // the original no longer holds the right to reply
            let text = copy.body().to_uppercase();
            copy.reply(text).unwrap();
            Ok::<_, rcos::Interrupt>(())
        });
        server
            .call::<String, String>("hello".into(), Duration::from_secs(1))
            .await
    });
    assert_eq!(answer.unwrap(), "HELLO");
}

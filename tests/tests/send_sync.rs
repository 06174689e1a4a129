//! Static checks that public handles are thread-safe and public futures can move
//! between worker threads.

use std::future::Future;
use std::time::Duration;

use rcos::{Envelope, Exit, Handle, ReplyTo, Request, Runtime, TaskRef, Value};

fn is_send<T: Send>(_: &T) {}
fn is_send_sync<T: Send + Sync + 'static>() {}
fn is_future_send<F: Future + Send>(_: F) {}

#[test]
fn handles_are_send_and_sync() {
    is_send_sync::<TaskRef>();
    is_send_sync::<Handle>();
    is_send_sync::<Runtime>();
    is_send_sync::<Exit>();
    is_send_sync::<Value>();
    is_send_sync::<rcos::SendError<u8>>();
    is_send_sync::<rcos::CallError>();
    is_send_sync::<rcos::Interrupt>();
    is_send_sync::<rcos::time::Sleep>();
    let env = Envelope::new(1u8);
    is_send(&env);
    let (_, reply): (u8, ReplyTo) = (0, unreachable_reply());
    is_send(&reply);
    is_send(&std::marker::PhantomData::<Request<u8>>);
}

fn unreachable_reply() -> ReplyTo {
    // Only the type matters here; a real ReplyTo comes from a Request.
    let rt = rcos_tests::det(0);
    rt.block_on(async {
        let me = TaskRef::current().unwrap();
        let echo = rcos::spawn(move |task| async move {
            let env = task.receive().await?;
            let req = env.downcast::<Request<u8>>().unwrap();
            let (_, reply) = req.into_parts();
            me.send_local(reply).unwrap();
            Ok::<_, rcos::Interrupt>(())
        });
        let _ = echo.call::<u8, u8>(1, Duration::from_millis(1)).await;
        TaskRef::current()
            .unwrap()
            .receive()
            .await
            .unwrap()
            .downcast_any::<ReplyTo>()
            .unwrap()
    })
}

#[allow(unreachable_code, clippy::diverging_sub_expression)]
fn futures_are_send(task: TaskRef) {
    is_future_send(task.receive());
    is_future_send(task.receive_timeout(Duration::ZERO));
    is_future_send(task.receive_or(Duration::ZERO, 1u8));
    is_future_send(task.receive_type::<u8>());
    is_future_send(task.receive_where(|_: &u8| true));
    is_future_send(task.receive_match(|_| true));
    is_future_send(task.sleep(Duration::ZERO));
    is_future_send(task.suspend(None));
    is_future_send(task.finish());
    is_future_send(task.deliver(1u8, Duration::ZERO));
    is_future_send(task.call::<u8, u8>(1, Duration::ZERO));
    is_future_send(TaskRef::locate("x", Duration::ZERO));
    is_future_send(rcos::time::sleep(Duration::ZERO));
    is_future_send(rcos::time::timeout(Duration::ZERO, async {}));
    is_future_send(rcos::task::yield_now());
}

#[test]
fn the_future_checks_compile() {
    // The real check is that `futures_are_send` compiles; calling it on a task's own
    // reference proves nothing more, so just take its address.
    let _ = futures_are_send as fn(TaskRef);
}

//! The sender's `tracing` span crosses the wire: a message from inside a span on one
//! node arrives on the other inside an `rcos.remote` span naming the sender's node,
//! span and span id — and a reply sent from there names the original span again.
//! (Its own test binary: it installs a global subscriber.)

use std::sync::Mutex;
use std::time::Duration;

use rcos::{TaskRef, task};
use rcos_tests::{node, run};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// The fields of every `rcos.remote` span opened, as `name=value` lists.
static REMOTE_SPANS: Mutex<Vec<Vec<String>>> = Mutex::new(Vec::new());

struct Recorder;

struct Fields(Vec<String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push(format!("{}={value:?}", field.name()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push(format!("{}={value}", field.name()));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: Context<'_, S>,
    ) {
        if attrs.metadata().name() == "rcos.remote" {
            let mut fields = Fields(Vec::new());
            attrs.record(&mut fields);
            REMOTE_SPANS.lock().unwrap().push(fields.0);
        }
    }
}

/// Answers each `TaskRef` it receives, from inside the message's span.
#[task]
async fn bouncer(task: TaskRef) {
    while let Ok(env) = task.receive().await {
        let _in_span = env.span().clone().entered();
        if let Ok(back) = env.downcast::<TaskRef>() {
            let _ = back.send("bounced".to_string());
        }
    }
}

#[test]
fn the_senders_span_crosses_to_the_other_node_and_back() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Recorder))
        .expect("no other subscriber in this test binary");
    let (a, b) = (node("span-a"), node("span-b"));
    bouncer::spawn_on(&a).register("bouncer").unwrap();
    let at = a.location().unwrap();
    let (origin, reply_span) = run(&b, async move {
        let bouncer = TaskRef::locate_at(at, "bouncer", Duration::from_secs(10))
            .await
            .unwrap();
        let me = TaskRef::current().unwrap();
        let span = tracing::info_span!("checkout", order = 42);
        let origin = span.id().map(|id| id.into_u64());
        {
            let _in_span = span.enter();
            bouncer.send(me.clone()).unwrap();
        }
        let reply = me.receive().await.unwrap();
        let name = reply.span().metadata().map(|m| m.name());
        assert_eq!(reply.downcast::<String>().unwrap(), "bounced");
        (origin, name)
    });
    let origin = origin.expect("the subscriber records spans");
    // The reply came back inside an `rcos.remote` span too.
    assert_eq!(reply_span, Some("rcos.remote"));
    let spans = REMOTE_SPANS.lock().unwrap().clone();
    // Both hops name the first sender's span: `checkout`, its id, on node `span-b`.
    let hops: Vec<_> = spans
        .iter()
        .filter(|f| f.iter().any(|x| x == "remote.span=checkout"))
        .collect();
    assert_eq!(hops.len(), 2, "{spans:?}");
    for fields in hops {
        assert!(
            fields.contains(&format!("remote.span_id={origin}")),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"remote.node=span-b".to_string()),
            "{fields:?}"
        );
    }
}

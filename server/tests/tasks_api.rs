//! Tasks end to end in-process: a core on port 0 with a SQLite store and a
//! worker driven by hand over ScrapeTask.

use std::time::Duration;

use herald_proto::v1::task_service_client::TaskServiceClient;
use herald_proto::v1::{
    CancelTaskRequest, GetTaskRequest, ScrapeTaskRequest, ScrapeTaskResponse, SubmitTaskRequest,
    TaskAssignment, TaskFailure, TaskResult, TaskStatus, WorkerHello, scrape_task_request,
    scrape_task_response,
};
use herald_server::CoreConfig;
use herald_server::tasks::TaskConfig;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Request};

const TOKEN: &str = "test-token";
const GUARD: Duration = Duration::from_secs(10);

struct Core {
    url: String,
    _dir: TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start() -> Core {
    let dir = std::env::temp_dir().join(format!("herald-tasks-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("h.db").display());
    start_on(url, dir).await
}

/// A core whose task store is `store_url`; `dir` is removed with it.
async fn start_on(store_url: String, dir: std::path::PathBuf) -> Core {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let config = CoreConfig {
        service_tokens: vec![TOKEN.into()],
        store_url: Some(store_url),
        tasks: TaskConfig {
            queues: vec!["scrape".into()],
            retry_backoff: Duration::from_millis(10),
            retry_backoff_max: Duration::from_millis(50),
            poll_interval: Duration::from_millis(20),
            ..TaskConfig::default()
        },
        ..CoreConfig::default()
    };
    tokio::spawn(herald_server::run(listener, config, async {
        let _ = rx.await;
    }));
    Core {
        url,
        _dir: TempDir(dir),
        _stop: tx,
    }
}

fn rand_suffix() -> String {
    format!("{}-{:?}", std::process::id(), std::time::Instant::now())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}

fn authed<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

async fn client(url: &str) -> TaskServiceClient<Channel> {
    TaskServiceClient::new(
        Channel::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    )
}

struct Worker {
    tx: mpsc::Sender<ScrapeTaskRequest>,
    rx: tonic::Streaming<ScrapeTaskResponse>,
}

impl Worker {
    async fn connect(url: &str, capacity: u32) -> Result<Self, tonic::Status> {
        let (tx, rx) = mpsc::channel(64);
        tx.send(ScrapeTaskRequest {
            msg: Some(scrape_task_request::Msg::Hello(WorkerHello {
                name: "w".into(),
                queues: vec!["scrape".into()],
                capacity,
                labels: Default::default(),
            })),
        })
        .await
        .unwrap();
        let mut c = client(url).await;
        let rx = c
            .scrape_task(authed(ReceiverStream::new(rx)))
            .await?
            .into_inner();
        let mut w = Worker { tx, rx };
        assert!(matches!(
            w.next().await,
            scrape_task_response::Msg::Welcome(_)
        ));
        Ok(w)
    }

    async fn next(&mut self) -> scrape_task_response::Msg {
        loop {
            let m = tokio::time::timeout(GUARD, self.rx.message())
                .await
                .expect("worker message in time")
                .unwrap()
                .expect("stream open");
            match m.msg.unwrap() {
                scrape_task_response::Msg::Ping(_) => continue,
                other => return other,
            }
        }
    }

    async fn assignment(&mut self) -> TaskAssignment {
        match self.next().await {
            scrape_task_response::Msg::Assignment(a) => a,
            other => panic!("expected assignment, got {other:?}"),
        }
    }

    async fn send(&self, msg: scrape_task_request::Msg) {
        self.tx
            .send(ScrapeTaskRequest { msg: Some(msg) })
            .await
            .unwrap();
    }

    async fn result(&self, a: &TaskAssignment, json: &str) {
        self.send(scrape_task_request::Msg::Result(TaskResult {
            task_id: a.task.as_ref().unwrap().id.clone(),
            lease_token: a.lease_token,
            result_json: json.into(),
        }))
        .await;
    }
}

fn submit(payload: &str) -> SubmitTaskRequest {
    SubmitTaskRequest {
        queue: "scrape".into(),
        payload_json: payload.into(),
        ..Default::default()
    }
}

/// Submits `req`; returns the new task's id.
async fn submitted(c: &mut TaskServiceClient<Channel>, req: SubmitTaskRequest) -> String {
    c.submit_task(authed(req))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap()
        .id
}

async fn status_of(c: &mut TaskServiceClient<Channel>, id: &str) -> herald_proto::v1::Task {
    c.get_task(authed(GetTaskRequest { id: id.into() }))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap()
}

#[tokio::test]
async fn submit_assign_succeed_and_refuse_stale_results() {
    let core = start().await;
    let mut c = client(&core.url).await;
    let t = c
        .submit_task(authed(submit("{\"keyword\":\"plumber\"}")))
        .await
        .unwrap()
        .into_inner();
    assert!(t.created);
    let id = t.task.unwrap().id;
    let mut w = Worker::connect(&core.url, 2).await.unwrap();
    let a = w.assignment().await;
    assert_eq!(a.task.as_ref().unwrap().id, id);
    assert_eq!(a.task.as_ref().unwrap().attempt, 1);

    // A result with the wrong token is refused, the task stays running.
    w.send(scrape_task_request::Msg::Result(TaskResult {
        task_id: id.clone(),
        lease_token: a.lease_token ^ 1,
        result_json: "{}".into(),
    }))
    .await;
    match w.next().await {
        scrape_task_response::Msg::Rejected(r) => {
            assert_eq!(r.code, Code::FailedPrecondition as i32)
        }
        other => panic!("expected rejection, got {other:?}"),
    }
    // A result that is not JSON is refused too.
    w.result(&a, "{oops").await;
    match w.next().await {
        scrape_task_response::Msg::Rejected(r) => assert_eq!(r.code, Code::InvalidArgument as i32),
        other => panic!("expected rejection, got {other:?}"),
    }
    w.result(&a, "{\"leads_found\":3}").await;
    match w.next().await {
        scrape_task_response::Msg::Accepted(x) => {
            assert_eq!(x.status, TaskStatus::Succeeded as i32)
        }
        other => panic!("expected accepted, got {other:?}"),
    }
    let t = status_of(&mut c, &id).await;
    assert_eq!(t.status, TaskStatus::Succeeded as i32);
    assert_eq!(t.result_json, "{\"leads_found\":3}");
    // The same result again: no longer held.
    w.result(&a, "{}").await;
    assert!(matches!(
        w.next().await,
        scrape_task_response::Msg::Rejected(_)
    ));
}

#[tokio::test]
async fn a_dropped_worker_loses_its_task_to_the_next_one() {
    let core = start().await;
    let mut c = client(&core.url).await;
    let id = submitted(&mut c, submit("1")).await;
    let mut w1 = Worker::connect(&core.url, 1).await.unwrap();
    let a1 = w1.assignment().await;
    drop(w1);
    let mut w2 = Worker::connect(&core.url, 1).await.unwrap();
    let a2 = w2.assignment().await;
    assert_eq!(a2.task.as_ref().unwrap().id, id);
    assert_eq!(a2.task.as_ref().unwrap().attempt, 2);
    assert_ne!(a2.lease_token, a1.lease_token);
    w2.result(&a2, "true").await;
    assert!(matches!(
        w2.next().await,
        scrape_task_response::Msg::Accepted(_)
    ));
}

#[tokio::test]
async fn retryable_failures_end_dead_after_max_attempts() {
    let core = start().await;
    let mut c = client(&core.url).await;
    let mut req = submit("{}");
    req.max_attempts = 2;
    let id = submitted(&mut c, req).await;
    let mut w = Worker::connect(&core.url, 1).await.unwrap();
    for attempt in 1..=2 {
        let a = w.assignment().await;
        assert_eq!(a.task.as_ref().unwrap().attempt, attempt);
        w.send(scrape_task_request::Msg::Failure(TaskFailure {
            task_id: id.clone(),
            lease_token: a.lease_token,
            error: format!("boom {attempt}"),
            retryable: true,
        }))
        .await;
        assert!(matches!(
            w.next().await,
            scrape_task_response::Msg::Accepted(_)
        ));
    }
    let t = status_of(&mut c, &id).await;
    assert_eq!(t.status, TaskStatus::Dead as i32);
    assert_eq!(t.last_error, "boom 2");
}

#[tokio::test]
async fn cancel_reaches_the_worker_and_idempotent_submit_returns_the_same_task() {
    let core = start().await;
    let mut c = client(&core.url).await;
    let mut req = submit("{}");
    req.idempotency_key = "k".into();
    let first = c
        .submit_task(authed(req.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = c.submit_task(authed(req)).await.unwrap().into_inner();
    assert!(!again.created);
    let id = first.task.unwrap().id;
    assert_eq!(again.task.unwrap().id, id);
    let mut w = Worker::connect(&core.url, 1).await.unwrap();
    let a = w.assignment().await;
    let cancelled = c
        .cancel_task(authed(CancelTaskRequest {
            id: id.clone(),
            reason: "user changed their mind".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.task.unwrap().status, TaskStatus::Cancelled as i32);
    match w.next().await {
        scrape_task_response::Msg::Revoked(r) => {
            assert_eq!(r.task_id, id);
            assert_eq!(r.lease_token, a.lease_token);
        }
        other => panic!("expected revoke, got {other:?}"),
    }
    // Cancelling a finished task is refused clearly.
    let e = c
        .cancel_task(authed(CancelTaskRequest {
            id,
            reason: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn bad_input_gets_clear_statuses() {
    let core = start().await;
    let mut c = client(&core.url).await;
    let mut unknown = submit("{}");
    unknown.queue = "nope".into();
    assert_eq!(
        c.submit_task(authed(unknown)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(
        c.submit_task(authed(submit("not json")))
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    let e = Worker::connect(&core.url, 0)
        .await
        .err()
        .expect("capacity 0 refused");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("capacity"), "{}", e.message());
    let e = c
        .get_task(authed(GetTaskRequest {
            id: "missing".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A result for a task this worker never held.
    let w = Worker::connect(&core.url, 1).await.unwrap();
    let mut w = w;
    w.send(scrape_task_request::Msg::Result(TaskResult {
        task_id: "t_other".into(),
        lease_token: 7,
        result_json: "{}".into(),
    }))
    .await;
    match w.next().await {
        scrape_task_response::Msg::Rejected(r) => {
            assert_eq!(r.code, Code::FailedPrecondition as i32)
        }
        other => panic!("expected rejection, got {other:?}"),
    }
}

// ---------- a store that refuses writes for a while ----------

/// A fresh PostgreSQL database whose task updates can be made to fail (a trigger raising an error while
/// `chaos.fail` is set); every refused update bumps a sequence, which survives the rollback, so a test
/// can see that a write was refused. Dropped at the end.
struct FlakyStore {
    admin: String,
    name: String,
    url: String,
}

impl FlakyStore {
    async fn create() -> FlakyStore {
        use sqlx::{Connection, Executor};
        let admin = std::env::var("HERALD_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("herald_flaky_{}", rand_suffix().to_ascii_lowercase());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        FlakyStore { admin, name, url }
    }

    /// Installs the failure switch (after the core created its tables).
    async fn install(&self) {
        use sqlx::Executor;
        let mut conn = self.conn().await;
        conn.execute(
            "CREATE TABLE chaos (fail BOOLEAN NOT NULL); INSERT INTO chaos VALUES (false); \
             CREATE SEQUENCE chaos_refused; \
             CREATE FUNCTION chaos_check() RETURNS trigger AS $$ BEGIN \
               IF (SELECT fail FROM chaos) THEN PERFORM nextval('chaos_refused'); \
               RAISE EXCEPTION 'store unavailable (injected)'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER chaos BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION chaos_check();",
        )
        .await
        .unwrap();
    }

    async fn conn(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }

    async fn set_failing(&self, fail: bool) {
        sqlx::query("UPDATE chaos SET fail = $1")
            .bind(fail)
            .execute(&mut self.conn().await)
            .await
            .unwrap();
    }

    /// How many task updates were refused so far.
    async fn refused(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM chaos_refused",
        )
        .fetch_one(&mut self.conn().await)
        .await
        .unwrap()
    }

    /// Waits until at least `n` task updates were refused.
    async fn wait_refused(&self, n: i64) {
        tokio::time::timeout(GUARD, async {
            while self.refused().await < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the core tried to write to the store");
    }
}

impl Drop for FlakyStore {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Best effort, on a runtime of its own (the test's may be gone).
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                use sqlx::{Connection, Executor};
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = c
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

async fn flaky_core() -> (FlakyStore, Core) {
    let store = FlakyStore::create().await;
    let dir = std::env::temp_dir().join(format!("herald-tasks-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let core = start_on(store.url.clone(), dir).await;
    // The first answer comes once the core serves, after it created its tables.
    let _ = client(&core.url)
        .await
        .get_task(authed(GetTaskRequest { id: "none".into() }))
        .await;
    store.install().await;
    (store, core)
}

#[tokio::test]
async fn a_result_the_store_refused_is_recorded_once_the_store_is_back() {
    let (store, core) = flaky_core().await;
    let mut c = client(&core.url).await;
    let id = submitted(&mut c, submit("{}")).await;
    let mut w = Worker::connect(&core.url, 1).await.unwrap();
    let a = w.assignment().await;

    store.set_failing(true).await;
    w.result(&a, "{\"done\":1}").await;
    store.wait_refused(1).await;
    assert_eq!(
        status_of(&mut c, &id).await.status,
        TaskStatus::Running as i32,
        "not recorded yet"
    );
    store.set_failing(false).await;

    // The engine kept the lease and retried: the result is recorded and the worker told so.
    match w.next().await {
        scrape_task_response::Msg::Accepted(x) => {
            assert_eq!(x.status, TaskStatus::Succeeded as i32)
        }
        other => panic!("expected the result accepted once the store is back, got {other:?}"),
    }
    let t = status_of(&mut c, &id).await;
    assert_eq!(t.status, TaskStatus::Succeeded as i32);
    assert_eq!(t.result_json, "{\"done\":1}");
}

#[tokio::test]
async fn a_lease_that_expired_while_the_store_was_down_is_released_once_it_is_back() {
    let (store, core) = flaky_core().await;
    let mut c = client(&core.url).await;
    let mut req = submit("{}");
    req.attempt_timeout_ms = 300;
    let id = submitted(&mut c, req).await;
    let mut w = Worker::connect(&core.url, 1).await.unwrap();
    let a1 = w.assignment().await;

    store.set_failing(true).await;
    // The worker says nothing: the lease lapses and is revoked; the store refuses to record it.
    match w.next().await {
        scrape_task_response::Msg::Revoked(r) => assert_eq!(r.lease_token, a1.lease_token),
        other => panic!("expected the lease revoked, got {other:?}"),
    }
    store.wait_refused(1).await;
    store.set_failing(false).await;

    // The sweeper retried: the task is queued again and handed out for its second attempt.
    let a2 = w.assignment().await;
    assert_eq!(a2.task.as_ref().unwrap().id, id);
    assert_eq!(a2.task.as_ref().unwrap().attempt, 2);
    w.result(&a2, "1").await;
    assert!(matches!(
        w.next().await,
        scrape_task_response::Msg::Accepted(_)
    ));
}

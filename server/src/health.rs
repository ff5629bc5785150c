//! gRPC health (`grpc.health.v1`) per service: `HeraldService` and `EdgeService` serve while the
//! core runs; `TaskService` serves only while the task store answers (NOT_SERVING without a store).

use std::time::Duration;

use herald_proto::v1::edge_service_server::EdgeServiceServer;
use herald_proto::v1::herald_service_server::HeraldServiceServer;
use herald_proto::v1::task_service_server::TaskServiceServer;
use herald_store::Store;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::rpc::{EdgeApi, HeraldApi, TaskApi};

/// How often the store is pinged.
const STORE_CHECK: Duration = Duration::from_secs(2);
/// How long a ping may take before the store counts as down.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the health statuses up to date until `stop` is cancelled, then reports every service
/// NOT_SERVING (the core is going away).
pub(crate) async fn report(
    reporter: HealthReporter,
    store: Option<Store>,
    stop: CancellationToken,
) {
    reporter
        .set_serving::<HeraldServiceServer<HeraldApi>>()
        .await;
    reporter.set_serving::<EdgeServiceServer<EdgeApi>>().await;
    reporter
        .set_service_status("", ServingStatus::Serving)
        .await;
    let mut healthy = None;
    let mut tick = tokio::time::interval(STORE_CHECK);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let now = match &store {
            None => false,
            Some(s) => match tokio::time::timeout(STORE_TIMEOUT, s.ping()).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    if healthy != Some(false) {
                        tracing::warn!(error = %e, "task store health check failed");
                    }
                    false
                }
                Err(_) => {
                    if healthy != Some(false) {
                        tracing::warn!("task store health check timed out");
                    }
                    false
                }
            },
        };
        if healthy != Some(now) {
            if now {
                reporter.set_serving::<TaskServiceServer<TaskApi>>().await;
                if healthy.is_some() {
                    tracing::info!("task store answers again");
                }
            } else {
                reporter
                    .set_not_serving::<TaskServiceServer<TaskApi>>()
                    .await;
            }
            healthy = Some(now);
        }
    }
    for name in [
        "",
        <HeraldServiceServer<HeraldApi> as tonic::server::NamedService>::NAME,
        <EdgeServiceServer<EdgeApi> as tonic::server::NamedService>::NAME,
        <TaskServiceServer<TaskApi> as tonic::server::NamedService>::NAME,
    ] {
        reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }
}

//! gRPC health (`grpc.health.v1`) per service: `HeraldService` and `EdgeService` serve while the
//! core runs and, in a cluster, while its Redis answers; `TaskService` serves only while the task
//! store answers (NOT_SERVING without a store).

use std::time::Duration;

use herald_proto::v1::edge_service_server::EdgeServiceServer;
use herald_proto::v1::herald_service_server::HeraldServiceServer;
use herald_proto::v1::task_service_server::TaskServiceServer;
use herald_store::Store;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::cluster::Redis;
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
    broker: Option<std::sync::Arc<Redis>>,
    stop: CancellationToken,
) {
    let mut broker_ok = None;
    let mut healthy = None;
    let mut tick = tokio::time::interval(STORE_CHECK);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let up = match &broker {
            None => true,
            Some(r) => match r.ping().await {
                Ok(()) => true,
                Err(e) => {
                    if broker_ok != Some(false) {
                        tracing::warn!(url = %r.config.url, error = %e, "broker health check failed");
                    }
                    false
                }
            },
        };
        if broker_ok != Some(up) {
            // Without its broker a core of a cluster can neither accept nor deliver events.
            let status = if up {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            for name in [
                "",
                <HeraldServiceServer<HeraldApi> as tonic::server::NamedService>::NAME,
                <EdgeServiceServer<EdgeApi> as tonic::server::NamedService>::NAME,
            ] {
                reporter.set_service_status(name, status).await;
            }
            if up && broker_ok == Some(false) {
                tracing::info!("broker answers again");
            }
            broker_ok = Some(up);
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

//! How the playbook client uses connections, counted by a loopback TCP relay
//! in front of the simulated fleet: reads reuse one pooled connection, and
//! every action (a rollback, a deploy) opens a connection of its own, so none
//! is sent down an idle connection the service may be closing.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backout::playbook::{Endpoints, PlaybookClient, RollbackRequestBody};
use backout::sim::{Scenario, ServiceKind, ServiceSpec, SimOptions, Timings};

/// A relay on 127.0.0.1 to `target`, counting the connections it accepts.
async fn relay(target: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_share_a_connection_and_every_action_opens_its_own() {
    let spec = ServiceSpec::new("checkout", ServiceKind::BlueGreen, Scenario::Steady);
    let sim =
        backout::sim::spawn(SimOptions { services: vec![spec], timings: Timings::default(), seed: None }).unwrap();
    let target: std::net::SocketAddr =
        sim.base_url("checkout").trim_start_matches("http://").split('/').next().unwrap().parse().unwrap();
    let (addr, accepted) = relay(target).await;
    let client = PlaybookClient::new(Endpoints::new(&format!("http://{addr}/svc/checkout")), Duration::from_secs(5));

    for _ in 0..3 {
        client.status().await.unwrap();
        client.health().await.unwrap();
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "six reads, one connection");

    // A second client on the same runtime shares the pool.
    let other = PlaybookClient::new(Endpoints::new(&format!("http://{addr}/svc/checkout")), Duration::from_secs(5));
    other.status().await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "clients on one runtime share their reads' pool");

    let body = RollbackRequestBody { version: None, reason: Some("test".into()), expected_version: None };
    let _ = client.rollback(&body).await;
    let _ = client.rollback(&body).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "each rollback request on a connection of its own");
    assert_eq!(sim.rollback_requests("checkout"), 2, "each sent once");
}

//! Desktop notifications over D-Bus, best effort.

use std::time::Duration;

/// How long a desktop notification may take before it counts as failed.
pub const DESKTOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Shows one notification: the first line as summary, the rest as body.
pub async fn show(text: &str) -> Result<(), String> {
    let (summary, body) = match text.split_once('\n') {
        Some((first, rest)) => (first, rest.trim()),
        None => (text, ""),
    };
    let mut notification = notify_rust::Notification::new();
    notification.appname("backout").summary(summary).body(body);
    match tokio::time::timeout(DESKTOP_TIMEOUT, deliver(notification)).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer from the notification service within {}s", DESKTOP_TIMEOUT.as_secs())),
    }
}

/// D-Bus through zbus on the caller's tokio runtime (notify-rust's
/// `z-with-tokio`): no second runtime, no blocking thread; a call past the
/// timeout is dropped, which closes its connection.
#[cfg(all(unix, not(target_os = "macos")))]
async fn deliver(notification: notify_rust::Notification) -> Result<(), String> {
    notification.show_async().await.map(|_handle| ()).map_err(|e| e.to_string())
}

/// macOS and Windows have only notify-rust's blocking `show`: it runs on the
/// blocking pool, and on timeout it is left to finish on its own.
#[cfg(not(all(unix, not(target_os = "macos"))))]
async fn deliver(notification: notify_rust::Notification) -> Result<(), String> {
    let task = tokio::task::spawn_blocking(move || notification.show().map(|_handle| ()).map_err(|e| e.to_string()));
    task.await.unwrap_or_else(|join| Err(format!("the notification task failed: {join}")))
}

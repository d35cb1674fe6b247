//! Desktop notifications over D-Bus, best effort.

use std::time::Duration;

/// How long a desktop notification may take before it counts as failed.
pub const DESKTOP_TIMEOUT: Duration = Duration::from_secs(2);

/// Shows one notification: the first line as summary, the rest as body.
///
/// notify-rust's `show` blocks on D-Bus, so it runs on the blocking pool; on timeout the
/// blocking call is left to finish on its own and the caller moves on.
pub async fn show(text: &str) -> Result<(), String> {
    let (summary, body) = match text.split_once('\n') {
        Some((first, rest)) => (first.to_string(), rest.trim().to_string()),
        None => (text.to_string(), String::new()),
    };
    let task = tokio::task::spawn_blocking(move || {
        notify_rust::Notification::new()
            .appname("backout")
            .summary(&summary)
            .body(&body)
            .show()
            .map(|_handle| ())
            .map_err(|e| e.to_string())
    });
    match tokio::time::timeout(DESKTOP_TIMEOUT, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(format!("the notification task failed: {join}")),
        Err(_) => Err(format!("no answer from the notification service within {}s", DESKTOP_TIMEOUT.as_secs())),
    }
}

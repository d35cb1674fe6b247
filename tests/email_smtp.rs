//! Issue 12, item 5: email over SMTP with STARTTLS, received by a real SMTP
//! server on loopback (Python's `aiosmtpd`, which `./test.sh` installs),
//! whose certificate a test CA signed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backout::config::Config;
use backout::notify::{Notification, NotificationKind, Notifier};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on loopback requiring STARTTLS, keeping messages in `dir/mbox`.
fn start_smtp(dir: &Path) -> (Running, u16) {
    let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success());
    assert!(ok, "Python's aiosmtpd is not installed: run ./test.sh, which installs it");
    let (ca, cert, key) = common::certificates();
    std::fs::write(dir.join("ca.pem"), ca).unwrap();
    std::fs::write(dir.join("smtp.pem"), cert).unwrap();
    std::fs::write(dir.join("smtp.key"), key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("localhost:{port}")])
        .arg("--tlscert")
        .arg(dir.join("smtp.pem"))
        .arg("--tlskey")
        .arg(dir.join("smtp.key"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(dir.join("mbox"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = common::wait_until(Duration::from_secs(15), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(up.is_some(), "aiosmtpd did not start");
    (Running(child), port)
}

/// Every message the server kept (aiosmtpd's Mailbox handler writes a Maildir).
fn received(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join("mbox").join(sub)) {
            out.extend(entries.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()));
        }
    }
    out
}

fn config(dir: &Path, email: &str) -> Config {
    let text = format!(
        "[notifications]\ndesktop = false\n\n[notifications.email]\n{email}\n\n[[environment]]\nname = \"catalog\"\n\
         kind = \"content\"\nbase_url = \"http://127.0.0.1:1\"\n"
    );
    let path = dir.join("backout.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn completed() -> Notification {
    Notification {
        kind: NotificationKind::RollbackCompleted,
        environment: "catalog".into(),
        colour: None,
        from_version: Some("content-v42".into()),
        target_version: Some("content-v41".into()),
        reason: "quality score 0.55 is 0.37 below its baseline 0.92".into(),
        impact: "lesson pages served degraded content".into(),
        duration: Some(Duration::from_secs(3)),
        error: None,
        actor: "rule:quality dropped more than 0.1".into(),
        drill: false,
        group_key: "catalog:rollback:1".into(),
        flag: None,
        severity: None,
        incident_id: Some(1),
        detail: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_notice_reaches_a_real_smtp_server_over_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let (_smtp, port) = start_smtp(dir.path());
    let email = format!(
        "smtp_host = \"localhost\"\nsmtp_port = {port}\nfrom = \"backout <backout@example.com>\"\n\
         to = [\"content-admins@example.com\", \"oncall@example.com\"]\nca_file = \"ca.pem\""
    );
    let cfg = config(dir.path(), &email);
    let n = Notifier::from_config_with(&cfg.notifications, |_| None);
    assert!(n.describe().contains("email on"), "{}", n.describe());
    let d = n.send(&completed()).await;
    assert_eq!(d.channels, ["email"], "{d:?}");

    let messages = received(dir.path());
    assert_eq!(messages.len(), 1, "{messages:?}");
    let mbox = &messages[0];
    assert!(mbox.contains("From: backout <backout@example.com>"), "{mbox}");
    assert!(mbox.contains("To: content-admins@example.com, oncall@example.com"), "{mbox}");
    assert!(mbox.contains("Subject: =?utf-8?") || mbox.contains("Subject: ✅ ROLLBACK COMPLETED"), "{mbox}");
    // Seed 000: who, what, the previous version, the reason.
    for line in [
        "Environment: catalog",
        "Versions: content-v42 -> content-v41",
        "Reason: quality score 0.55 is 0.37 below its baseline 0.92",
        "Triggered by: rule:quality dropped more than 0.1",
    ] {
        assert!(mbox.contains(line), "missing {line:?} in:\n{mbox}");
    }
    // The server required STARTTLS: aiosmtpd refuses MAIL before it, so a
    // message in the box went over TLS. Without the CA the certificate is
    // not trusted and nothing is sent.
    let no_ca = email.replace("\nca_file = \"ca.pem\"", "");
    let untrusted = Notifier::from_config_with(&config(dir.path(), &no_ca).notifications, |_| None);
    let d = untrusted.send(&completed()).await;
    assert!(d.channels.is_empty() && d.errors.len() == 1, "{d:?}");
    assert!(d.errors[0].starts_with("email: "), "{d:?}");
    assert_eq!(received(dir.path()).len(), 1, "one message only");
}

#[test]
fn check_refuses_clear_text_mail_off_this_machine_bad_addresses_and_half_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let load = |email: &str| {
        let path = dir.path().join("e.toml");
        std::fs::write(
            &path,
            format!(
                "[notifications.email]\n{email}\n\n[[environment]]\nname = \"c\"\nkind = \"standard\"\nbase_url = \"http://127.0.0.1:1\"\n"
            ),
        )
        .unwrap();
        Config::load(&path).map(|_| ()).map_err(|e| e.to_string())
    };
    let base = "smtp_host = \"smtp.example.com\"\nfrom = \"backout@example.com\"\nto = [\"oncall@example.com\"]";
    assert_eq!(load(base), Ok(()));
    let e = load(&format!("{base}\nstarttls = false")).unwrap_err();
    assert!(e.contains("e.toml:5:12") && e.contains("clear text"), "{e}");
    assert_eq!(
        load(&base.replace("smtp.example.com", "localhost").replace("\nfrom", "\nstarttls = false\nfrom")),
        Ok(())
    );
    let e = load(&base.replace("oncall@example.com", "oncall at example")).unwrap_err();
    assert!(e.contains("is not an email address"), "{e}");
    let e = load(&format!("{base}\nusername_env = \"SMTP_USER\"")).unwrap_err();
    assert!(e.contains("needs both username_env and password_env"), "{e}");
}

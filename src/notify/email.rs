//! Email over SMTP (issue 12, item 5; seed 000's "notify administrators on
//! rollback" with content, reason and previous version): the template as a
//! plain-text message, sent with STARTTLS. The password is a secret: it never
//! reaches an error, a log or Debug.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Notification;
use crate::config::EmailConfig;

/// How long one message may take, connection and TLS included.
pub const EMAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// An email channel that is switched on.
pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email").field("from", &self.from.to_string()).field("to", &self.to.len()).finish()
    }
}

impl Email {
    /// From `[notifications.email]`, reading its secrets through `var`; why
    /// not when it cannot be set up (the channel is then off and `describe`
    /// says so).
    pub fn from_config(cfg: &EmailConfig, var: &dyn Fn(&str) -> Option<String>) -> Result<Email, String> {
        let from: Mailbox = cfg.from.get_ref().parse().map_err(|e| format!("from {:?}: {e}", cfg.from.get_ref()))?;
        let to = cfg
            .to
            .iter()
            .map(|t| t.get_ref().parse::<Mailbox>().map_err(|e| format!("to {:?}: {e}", t.get_ref())))
            .collect::<Result<Vec<_>, _>>()?;
        let host = cfg.smtp_host.get_ref().clone();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(cfg.port())
            .timeout(Some(EMAIL_TIMEOUT));
        if cfg.starttls() {
            let mut tls = TlsParameters::builder(host);
            if let Some(path) = cfg.ca_path() {
                let pem = std::fs::read(&path).map_err(|e| format!("cannot read ca_file {}: {e}", path.display()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                tls = tls.add_root_certificate(cert);
            }
            let params = tls.build().map_err(|e| format!("TLS: {e}"))?;
            builder = builder.tls(Tls::Required(params));
        }
        if let (Some(u), Some(p)) = (&cfg.username_env, &cfg.password_env) {
            let user = var(u.get_ref()).ok_or_else(|| format!("{} is not set", u.get_ref()))?;
            let password = var(p.get_ref()).ok_or_else(|| format!("{} is not set", p.get_ref()))?;
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Email { transport: builder.build(), from, to })
    }

    /// Sends one message; an error is a sentence.
    pub async fn send(&self, text: &str, n: &Notification) -> Result<(), String> {
        let subject = crate::text::excerpt(&format!("{} — {}", super::render::title(n), n.environment), 200);
        let mut message = Message::builder().from(self.from.clone()).subject(subject);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(format!("{text}\n\n-- \nSent by backout.\n"))
            .map_err(|e| format!("email: the message could not be built: {e}"))?;
        match tokio::time::timeout(EMAIL_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("email: {}", crate::text::excerpt(&e.to_string(), 200))),
            Err(_) => Err(format!("email: no answer within {}s", EMAIL_TIMEOUT.as_secs())),
        }
    }
}

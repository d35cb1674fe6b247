//! Reading what a service answers, bounded: a server that streams forever, or
//! sends a gigabyte, costs at most the cap in memory and is a failed read.

/// Most bytes read of one answer unless the environment says otherwise
/// (`max_body`).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The whole answer as text, or why not: an answer over `cap` bytes is an
/// error that names the cap and how to raise it; nothing past the cap is read.
pub async fn read_body(mut resp: reqwest::Response, cap: usize) -> Result<String, BodyError> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge(cap));
    }
    let mut kept: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if kept.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge(cap));
        }
        kept.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

/// Why an answer could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// More than this many bytes.
    TooLarge(usize),
    /// The connection failed mid-answer.
    Read(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(cap) => write!(
                f,
                "the answer is larger than {} (max_body); nothing past it was read (raise max_body for this environment if the answer is meant to be this big)",
                human_bytes(*cap)
            ),
            BodyError::Read(e) => write!(f, "reading the answer: {e}"),
        }
    }
}

/// `1 MiB`, `512 KiB`, `300 bytes`.
pub fn human_bytes(n: usize) -> String {
    const KIB: usize = 1024;
    if n >= KIB * KIB && n.is_multiple_of(KIB * KIB) {
        format!("{} MiB", n / (KIB * KIB))
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// An HTTP client that never follows redirects and trusts the certificates
/// of the PEM bundle `pem` besides the system's (a private CA's servers), or
/// why it cannot be built. Reading the file is the caller's.
pub fn client_trusting(pem: &[u8]) -> Result<reqwest::Client, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)".into());
    }
    certs
        .into_iter()
        .fold(reqwest::Client::builder(), reqwest::ClientBuilder::add_root_certificate)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("its certificates cannot be used: {e}"))
}

/// What a shared client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Reads (status, health, metrics): connections are kept and reused.
    Read,
    /// Actions (a rollback, a deploy): every request opens its own
    /// connection, so none is sent down one the server is closing as idle,
    /// where a failure would leave unknown whether the action ran.
    Action,
}

/// Most runtimes whose clients are kept (a process has one or two; tests many).
const KEPT_RUNTIMES: usize = 8;

/// An HTTP client that never follows a redirect, shared by every caller on the
/// current tokio runtime. Building one loads the system's certificates (about
/// 3 ms, most of a rollback's time before this), and reads reuse its pooled
/// connections. Clients are kept per runtime because a pooled connection is
/// driven by a task of the runtime that opened it; outside any runtime a new
/// client is built.
pub fn shared_client(purpose: Use) -> reqwest::Client {
    type Kept = Vec<(tokio::runtime::Id, Use, reqwest::Client)>;
    static CLIENTS: std::sync::Mutex<Kept> = std::sync::Mutex::new(Vec::new());
    let build = || {
        let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        let b = match purpose {
            Use::Read => b,
            Use::Action => b.pool_max_idle_per_host(0),
        };
        b.build().unwrap_or_else(|_| reqwest::Client::new())
    };
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return build() };
    let id = handle.id();
    let mut kept = CLIENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, _, c)) = kept.iter().find(|(i, p, _)| *i == id && *p == purpose) {
        return c.clone();
    }
    let client = build();
    if kept.len() >= KEPT_RUNTIMES * 2 {
        kept.remove(0);
    }
    kept.push((id, purpose, client.clone()));
    client
}

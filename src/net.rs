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

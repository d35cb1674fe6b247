//! The `backout` binary: install error reporting, parse the command line, dispatch.

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    quiet_on_broken_pipe();
    let cli = backout::cli::Cli::parse();
    let code = backout::cli::run(cli)?;
    std::process::exit(code as i32);
}

/// `backout history | head -1`: the reader left before the output ended. That
/// is not a crash: exit as a program stopped by SIGPIPE does (141), without a
/// panic report. Every other panic goes to the hooks installed before.
fn quiet_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        previous(info);
    }));
}

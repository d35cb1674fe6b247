//! The `backout` binary: install error reporting, parse the command line, dispatch.

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    let cli = backout::cli::Cli::parse();
    let code = backout::cli::run(cli)?;
    std::process::exit(code as i32);
}

//! `backout completions SHELL` and `backout man`: what a package installs,
//! generated from the command line's own definitions.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use color_eyre::eyre::{Result, WrapErr};

use super::Cli;
use super::output::Exit;

/// `backout completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for `args.shell` on stdout.
pub(super) fn completions(args: &CompletionsArgs) -> Result<Exit> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "backout", &mut script);
    print_generated(&script);
    Ok(Exit::Ok)
}

/// Prints backout's man page (roff, section 1) on stdout.
pub(super) fn man() -> Result<Exit> {
    // `backout help` is `--help` again; the page lists the commands that do something.
    let command = Cli::command().disable_help_subcommand(true);
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page).wrap_err("could not render the man page")?;
    print_generated(&page);
    Ok(Exit::Ok)
}

/// Both generators write into memory, where writing cannot fail; `print!` then
/// reports a closed stdout (`backout man | head`) the way every other command
/// does, as exit 141 without a panic report (see `main.rs`).
fn print_generated(text: &[u8]) {
    print!("{}", String::from_utf8_lossy(text));
}

//! The commands that describe the command line itself, all from the clap definitions of
//! [`crate::cli`]: `copili help`, `copili completions`, `copili man`.

use std::io::Write as _;
use std::path::Path;

use clap::CommandFactory as _;
use copili::exit_code;

use crate::cli::Cli;
use crate::error::CliError;
use crate::output::{self, outln};

/// `copili help [COMMAND…]`: exactly what `copili [COMMAND…] --help` prints, also for an
/// unknown command (clap's usage error, exit 2). clap's own `help` command refuses `copili help
/// --help`; this one is an ordinary command, with a help of its own.
pub(crate) fn help(path: &[String]) -> i32 {
    let args = std::iter::once("copili").chain(path.iter().map(String::as_str)).chain(std::iter::once("--help"));
    match Cli::command().try_get_matches_from(args) {
        Err(error) => crate::clap_message(&error),
        // `--help` always ends parsing; should a path ever swallow it, the top-level help.
        Ok(_) => {
            output::print(&output::styled(&Cli::command().render_long_help(), false));
            exit_code::SUCCESS
        }
    }
}

/// `copili completions SHELL`. Fish's script gets the values of positional arguments too, which
/// clap_complete's fish generator leaves out (it completes options only): without them, `copili
/// completions <TAB>` would offer files, where bash's script offers the shells.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<i32, CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "copili", &mut script);
    if shell == clap_complete::Shell::Fish {
        script.extend_from_slice(fish_positionals(&command).as_bytes());
    }
    // An error of standard output itself is said by `output`; nothing else can fail here.
    output::print_with(|out| out.write_all(&script))
        .map_err(|e| CliError::internal("the completion script could not be written", e))?;
    Ok(exit_code::SUCCESS)
}

/// `complete` lines for the positional arguments with a fixed set of values, of every command
/// one level down (`copili completions <TAB>`), in the form of clap_complete's own lines.
fn fish_positionals(root: &clap::Command) -> String {
    let mut out = String::new();
    for sub in root.get_subcommands() {
        for arg in sub.get_positionals() {
            let values: Vec<String> = arg
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if values.is_empty() {
                continue;
            }
            // Once one is given, there is nothing more to complete.
            let given = values.join(" ");
            out.push_str(&format!(
                "complete -c copili -n \"__fish_copili_using_subcommand {}; and not __fish_seen_subcommand_from {given}\" -f -a \"{given}\"\n",
                sub.get_name()
            ));
        }
    }
    out
}

/// `copili man DIR`: a page for copili and one for each command, subcommands included, named
/// as `man` looks them up (`copili-export-argo.1`); says which files it wrote.
pub(crate) fn man(dir: &Path) -> Result<i32, CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::CreateDir { path: dir.to_path_buf(), source })?;
    let mut root = Cli::command();
    root.build();
    let mut written = Vec::new();
    write_pages(&root, dir, &mut written)?;
    for path in written {
        outln!("wrote {}", path.display());
    }
    Ok(exit_code::SUCCESS)
}

fn write_pages(command: &clap::Command, dir: &Path, written: &mut Vec<std::path::PathBuf>) -> Result<(), CliError> {
    let page = clap_mangen::Man::new(command.clone());
    let path = dir.join(page.get_filename());
    let mut roff = Vec::new();
    // Into memory: only a bug of the renderer can fail.
    page.render(&mut roff).map_err(|e| CliError::internal("a man page would not render", e))?;
    std::fs::write(&path, roff).map_err(|source| CliError::Write { path: path.clone(), source })?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

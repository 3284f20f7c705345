//! `netbootd check` (like `kea-dhcp4 -t`) and `netbootd serve` (DHCPv4 + TFTP).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "netbootd",
    version,
    about = "DHCPv4 + TFTP server for network boot, driven by Kea and tftpd-hpa configs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a kea-dhcp4.conf as `kea-dhcp4 -t` does: exit 0 valid, 1 invalid, 2 unreadable.
    Check(cli::check::CheckArgs),
    /// Serve DHCPv4 and/or TFTP.
    Serve(Box<cli::serve::ServeArgs>),
    /// Print the manual page (roff), for packaging.
    #[command(hide = true)]
    Man,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Serve(args) => cli::serve::run(*args),
        Command::Man => {
            // Section 8: a system administration command (a daemon).
            let page = clap_mangen::Man::new(Cli::command()).section("8");
            match page.render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "netbootd",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

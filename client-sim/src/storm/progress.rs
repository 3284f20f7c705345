//! A progress bar for long storms, on a terminal only (indicatif draws nothing when stderr
//! is not one, so logs and CI output stay clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::Progress;

pub struct Bar(Option<ProgressBar>);

impl Bar {
    /// A bar over `clients` machines, when stderr is a terminal.
    pub fn new(clients: usize) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(clients as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} machines done, {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Bar(Some(bar))
    }

    pub fn show(&mut self, p: Progress) {
        if let Some(bar) = &self.0 {
            bar.set_position(p.finished as u64);
            bar.set_message(format!("virtual {:.1}s", p.now.as_secs_f64()));
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}

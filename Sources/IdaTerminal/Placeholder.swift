/// Placeholder until the terminal target lands.
enum IdaTerminalPlaceholder {}

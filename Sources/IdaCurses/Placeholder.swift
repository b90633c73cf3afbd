import IdaTerminal
/// Placeholder until the curses backend lands.
enum IdaCursesPlaceholder {}

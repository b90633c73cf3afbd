// The one C header the terminal backend sees. SwiftPM drops pkg-config's -D flags, so the
// wide-character API is switched on here, before curses.h is read.
#ifndef IDAMOE_CNCURSESW_SHIM_H
#define IDAMOE_CNCURSESW_SHIM_H
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <curses.h>

// Macros are invisible to Swift; these inline accessors stand in for them.
static inline int idamoe_lines(void) { return LINES; }
static inline int idamoe_cols(void) { return COLS; }
static inline WINDOW *idamoe_stdscr(void) { return stdscr; }
static inline int idamoe_colors(void) { return COLORS; }
static inline int idamoe_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int idamoe_a_bold(void) { return (int)A_BOLD; }
static inline int idamoe_a_reverse(void) { return (int)A_REVERSE; }
static inline int idamoe_a_underline(void) { return (int)A_UNDERLINE; }
static inline int idamoe_a_dim(void) { return (int)A_DIM; }
static inline int idamoe_key_resize(void) { return KEY_RESIZE; }
static inline int idamoe_key_mouse(void) { return KEY_MOUSE; }
static inline int idamoe_err(void) { return ERR; }

// Writes one cell holding a wide character with attributes and a colour pair.
static inline int idamoe_put_cell(int y, int x, const wchar_t *text, int attrs, short pair) {
    cchar_t cell;
    if (setcchar(&cell, text, (attr_t)attrs, pair, NULL) != OK) return ERR;
    return mvadd_wch(y, x, &cell);
}
#endif

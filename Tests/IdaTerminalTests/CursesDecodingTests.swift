@testable import IdaCurses
import IdaTerminal
import Testing

/// The curses key, mouse and colour-pair tables, checked without opening a terminal.
@Suite struct CursesDecodingTests {
    @Test func characterCodes() {
        #expect(CursesKeys.character(113) == .character("q"))
        #expect(CursesKeys.character(0xE9) == .character("é"))
        #expect(CursesKeys.character(0x6F22) == .character("漢"))
        #expect(CursesKeys.character(9) == .tab)
        #expect(CursesKeys.character(13) == .enter)
        #expect(CursesKeys.character(10) == .enter)
        #expect(CursesKeys.character(27) == .escape)
        #expect(CursesKeys.character(127) == .backspace)
        #expect(CursesKeys.character(3) == .control("c"))
        #expect(CursesKeys.character(26) == .control("z"))
        #expect(CursesKeys.character(0) == nil)
        #expect(CursesKeys.character(0x9B) == nil)
    }

    @Test func functionCodes() {
        #expect(CursesKeys.function(0o403) == .up)
        #expect(CursesKeys.function(0o404) == .left)
        #expect(CursesKeys.function(0o522) == .pageDown)
        #expect(CursesKeys.function(0o541) == .backTab)
        #expect(CursesKeys.function(0o410 + 1) == .function(1))
        #expect(CursesKeys.function(0o410 + 12) == .function(12))
        #expect(CursesKeys.function(0o777) == nil)
    }

    @Test func mouseMasksMatchTheHeader() {
        // Values printed by a C program including curses.h (NCURSES_MOUSE_VERSION 2).
        #expect(CursesMouse.allEvents == 0x0FFF_FFFF)
        #expect(CursesMouse.reportPosition == 0x1000_0000)
        #expect(CursesMouse.mask(button: 4, CursesMouse.pressed) == 0x10000)
        #expect(CursesMouse.mask(button: 5, CursesMouse.pressed) == 0x200000)
    }

    @Test func mouseEvents() {
        #expect(CursesMouse.event(state: 0x2, x: 3, y: 4) == MouseEvent(x: 3, y: 4, button: .left, action: .pressed))
        #expect(CursesMouse.event(state: 0x1, x: 3, y: 4)?.action == .released)
        #expect(CursesMouse.event(state: 0x800, x: 0, y: 0)?.button == .right)
        #expect(CursesMouse.event(state: 0x40, x: 0, y: 0)?.button == .middle)
        #expect(CursesMouse.event(state: 0x10000, x: 0, y: 0)?.button == .scrollUp)
        #expect(CursesMouse.event(state: 0x200000, x: 0, y: 0)?.button == .scrollDown)
        #expect(CursesMouse.event(state: 0x1000_0000, x: 0, y: 0) == nil)
    }

    @Test func colourPairsAreCachedAndBounded() {
        var pairs = ColorPairs(limit: 3, colors: 256, defaultColors: true)
        #expect(pairs.pair(for: .plain).pair == 0)
        let red = pairs.pair(for: Style(fg: .red))
        #expect(red.pair == 1 && red.isNew && red.fg == 1 && red.bg == -1)
        #expect(pairs.pair(for: Style(fg: .red, bold: true)).isNew == false)
        let blue = pairs.pair(for: Style(fg: .blue, bg: .indexed(53)))
        #expect(blue.pair == 2 && blue.bg == 53)
        #expect(pairs.pair(for: Style(fg: .green)).pair == 0)
    }

    @Test func colourNumbersFallBackOnSmallPalettes() {
        let eight = ColorPairs(limit: 64, colors: 8, defaultColors: false)
        #expect(eight.number(for: .indexed(196), background: false) == 1)
        #expect(eight.number(for: .brightBlue, background: false) == 4)
        #expect(eight.number(for: .default, background: true) == 0)
        #expect(eight.number(for: .default, background: false) == 7)
    }
}

import IdaTerminal

/// Colour pairs allocated on demand: each (foreground, background) curses colour number gets a
/// pair the first time a cell needs it. Pure bookkeeping; the terminal calls init_pair for new ones.
struct ColorPairs {
    /// The highest pair number usable (pairs are `short` in the cell-writing shim).
    let limit: Int32
    /// Curses colours available (COLORS).
    let colors: Int32
    /// Whether -1 means the terminal's default colour (use_default_colors succeeded).
    let defaultColors: Bool
    private var pairs: [Int64: Int16] = [:]
    private var next: Int32 = 1

    /// Creates an empty table.
    init(limit: Int32, colors: Int32, defaultColors: Bool) {
        self.limit = min(limit - 1, Int32(Int16.max))
        self.colors = colors
        self.defaultColors = defaultColors
    }

    /// The curses colour number for `color` as a foreground (or background).
    func number(for color: Color, background: Bool) -> Int32 {
        guard let index = color.paletteIndex else {
            if defaultColors { return -1 }
            return background ? 0 : 7
        }
        if Int32(index) < colors { return Int32(index) }
        let ansi = Int32(color.nearestANSI.paletteIndex ?? 0)
        return ansi < colors ? ansi : ansi - 8
    }

    /// The pair for a style's colours and whether it is new (the caller must init_pair it);
    /// pair 0 (the default colours) when the style has none or the pairs have run out.
    mutating func pair(for style: Style) -> (pair: Int16, fg: Int32, bg: Int32, isNew: Bool) {
        if style.fg == .default && style.bg == .default { return (0, -1, -1, false) }
        let fg = number(for: style.fg, background: false)
        let bg = number(for: style.bg, background: true)
        let key = Int64(fg) << 32 | Int64(UInt32(bitPattern: bg))
        if let known = pairs[key] { return (known, fg, bg, false) }
        guard next <= limit else { return (0, fg, bg, false) }
        let pair = Int16(next)
        next += 1
        pairs[key] = pair
        return (pair, fg, bg, true)
    }
}

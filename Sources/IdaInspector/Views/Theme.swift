import IdaTerminal

/// The inspector's colours and marker glyphs for one display mode. Every colour is chosen per
/// colour mode (rather than left to `Style.adapted`), so the 8-colour palette stays distinct;
/// monochrome relies on attributes and glyphs alone.
struct Theme: Sendable {
    /// Colours and glyphs allowed.
    let mode: DisplayMode

    /// A theme for `mode`.
    init(_ mode: DisplayMode) { self.mode = mode }

    /// Whether Unicode glyphs are allowed.
    var unicode: Bool { mode.unicode }
    /// Whether colours are shown at all.
    var colored: Bool { mode.colors != .monochrome }

    /// Distinct xterm-256 hues for experts: blue, orange, green, orchid, gold, teal, red, purple...
    static let palette256: [UInt8] = [39, 208, 77, 170, 220, 44, 203, 141, 148, 75, 216, 250]
    /// ANSI colours for experts in 8-colour mode (bright ones become bold there).
    static let palette8: [Color] = [.cyan, .yellow, .green, .magenta, .red, .blue, .white,
                                    .brightCyan, .brightYellow, .brightGreen, .brightMagenta, .brightRed]

    /// The colour of expert (or domain) `index`, cycling through the palette.
    func seriesColor(_ index: Int) -> Color {
        let i = max(0, index)
        switch mode.colors {
        case .c256: return .indexed(Theme.palette256[i % Theme.palette256.count])
        case .eight: return Theme.palette8[i % Theme.palette8.count]
        case .monochrome: return .default
        }
    }

    /// Style of text in expert (or domain) `index`'s colour.
    func series(_ index: Int) -> Style { Style(fg: seriesColor(index)) }

    /// One character naming index 0-61 ("0"-"9", "a"-"z", "A"-"Z"), for monochrome markers.
    static func idGlyph(_ index: Int) -> Character {
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        return index >= 0 && index < digits.count ? digits[index] : "?"
    }

    /// `style` made bold.
    func emphasized(_ style: Style) -> Style {
        var copy = style
        copy.bold = true
        return copy
    }

    /// Panel borders.
    var border: Style { Style(fg: colored ? .blue : .default, dim: !colored) }
    /// Panel titles.
    var title: Style { Style(bold: true) }
    /// Secondary text: labels, units, axes.
    var muted: Style { Style(dim: true) }
    /// Emphasised values.
    var strong: Style { Style(bold: true) }
    /// Key names in the footer and help.
    var key: Style { Style(fg: colored ? .cyan : .default, bold: true) }
    /// Something wrong (non-finite values, starved experts).
    var bad: Style { Style(fg: colored ? .red : .default, bold: true) }
    /// Something to watch (high CV, dead components).
    var warn: Style { Style(fg: colored ? .yellow : .default, bold: !colored) }
    /// Healthy values.
    var good: Style { Style(fg: colored ? .green : .default) }
    /// Neutral information.
    var info: Style { Style(fg: colored ? .cyan : .default) }
    /// The selected item (tab, snapshot, token under the cursor).
    var selected: Style { Style(bold: true, reverse: true) }
    /// A one-line message that needs attention.
    var message: Style { Style(fg: colored ? .yellow : .default, bold: true, reverse: true) }

    /// Marker of an error line in the alerts.
    var errorMark: String { unicode ? "■" : "X" }
    /// Marker of a warning line.
    var warnMark: String { unicode ? "▲" : "!" }
    /// Marker of an information line.
    var infoMark: String { unicode ? "•" : "-" }
    /// Marker of the token under the cursor in the latent plot.
    var cursorMark: Character { unicode ? "◆" : "@" }
    /// Marker of a component mean in the latent plot.
    var meanMark: Character { "+" }
    /// Marker of the pinned snapshot.
    var pinMark: String { unicode ? "◆" : "*" }
    /// The live indicator.
    var liveMark: String { unicode ? "●" : "*" }
    /// An ellipsis.
    var ellipsis: String { unicode ? "…" : "..." }
    /// A separator between items of a line.
    var dot: String { unicode ? " · " : " | " }
    /// An upward marker under a chart column.
    var caret: Character { unicode ? "▲" : "^" }
    /// How a newline token is shown in the probe text.
    var newline: String { unicode ? "↵" : "$" }
    /// How a tab token is shown in the probe text.
    var tab: String { unicode ? "→" : ">" }
    /// A small filled square used in colour keys.
    var swatch: String { unicode ? "■" : "#" }
}

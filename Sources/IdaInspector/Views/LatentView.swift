import IdaTerminal

/// Screen 3: the probe's router latents projected on their two principal axes, coloured by top-1
/// expert (or domain), with component means and one-sigma ellipses, and the cursor token marked.
enum LatentView {
    /// Components whose prior is below this share of the fair 1/K get no ellipse (they would only clutter).
    static let ellipsePriorShare = 0.5
    /// At most this many ellipses, largest priors first.
    static let maxEllipses = 32

    /// Lays out the plot and its key over `area`.
    static func render(_ state: InspectorState, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        guard let la = state.layerAnalysis else {
            Panel.waiting("latent", state, theme: theme, in: area, into: &buffer)
            return
        }
        guard !la.points.isEmpty else {
            let inner = Panel.draw("latent", in: area, theme: theme, into: &buffer)
            Panel.placeholder("softmax router: no latent space. Tokens go straight from the hidden state through a "
                + "linear gate, so there is no mixture to plot; see the Layer and Tokens screens.",
                in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        let keyWidth = area.width >= 100 ? 30 : 24
        let parts = area.columns([.fill(1), .fixed(keyWidth)])
        let p = la.projection?.center.count
        let title = "latent" + theme.dot + "layer \(la.layer)" + theme.dot + "PCA of z" + (p.map { " (P=\($0))" } ?? "")
        let inner = Panel.draw(title, in: parts[0], theme: theme, into: &buffer)
        let frame = LatentFrame(points: la.points, zoom: state.zoom, pan: state.pan)
        let groups = colorGroups(state, la)
        renderPlot(la, frame: frame, groups: groups, cursor: state.cursor, expert: state.selectedExpert, theme: theme,
                   in: inner, into: &buffer)
        renderKey(state, la, groups: groups, theme: theme, in: parts[1], into: &buffer)
    }

    /// The colour group of every point: top-1 expert, or domain when asked for and known.
    static func colorGroups(_ state: InspectorState, _ la: LayerAnalysis) -> [Int] {
        let n = la.points.count
        if state.colorByDomain, let domains = state.domains, domains.count >= n {
            return domains.prefix(n).map { Int($0) }
        }
        return (0..<n).map { i in i * la.topK < la.selected.count ? Int(la.selected[i * la.topK]) : 0 }
    }

    /// Components drawn with mean and ellipse: the selected expert's (every component of it), else
    /// those with prior at least half the fair share, largest first, `maxEllipses` at most.
    static func shownComponents(_ la: LayerAnalysis, expert: Int? = nil) -> [Int] {
        let k = la.priors.count
        guard k > 0, la.means.count == k, la.sigmas.count == k else { return [] }
        let m = la.componentsPerExpert
        if let e = expert, m > 0, e >= 0, (e + 1) * m <= k { return Array((e * m)..<((e + 1) * m)) }
        let floor = ellipsePriorShare / Double(k)
        let kept = (0..<k).filter { la.priors[$0] >= floor }
        return Array(kept.sorted { la.priors[$0] != la.priors[$1] ? la.priors[$0] > la.priors[$1] : $0 < $1 }.prefix(maxEllipses))
    }

    /// Whether the means without an ellipse are drawn as density shading: when an expert is
    /// selected or the mixture has more components than ellipses are drawn.
    static func shadesOthers(_ la: LayerAnalysis, expert: Int?) -> Bool {
        expert != nil || la.priors.count > maxEllipses
    }

    /// Prior mass of the component means not in `shown` per plot cell [rows * columns], row-major.
    static func meanDensity(_ la: LayerAnalysis, shown: [Int], frame: LatentFrame, columns: Int, rows: Int) -> [Double] {
        var mass = [Double](repeating: 0, count: columns * rows)
        let skip = Set(shown)
        for k in la.priors.indices where !skip.contains(k) && k < la.means.count {
            guard let c = frame.cell(of: la.means[k], columns: columns, rows: rows) else { continue }
            mass[c.row * columns + c.column] += la.priors[k]
        }
        return mass
    }

    /// Ellipses (dim), then points (braille dots in colour, merged into the ellipses' cells; group
    /// digits by majority in monochrome), then means and the cursor as cell markers.
    static func renderPlot(_ la: LayerAnalysis, frame: LatentFrame, groups: [Int], cursor: Int, expert: Int? = nil,
                           theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        guard !area.isEmpty else { return }
        let m = max(1, la.componentsPerExpert)
        let components = shownComponents(la, expert: expert)
        var ellipses = BrailleCanvas(columns: area.width, rows: area.height, viewport: frame.shown, style: Style(dim: true),
                                     mode: theme.mode)
        for k in components {
            let center = DataPoint(x: la.means[k].0, y: la.means[k].1)
            ellipses.ellipse(center: center, radii: DataPoint(x: la.sigmas[k].0, y: la.sigmas[k].1), color: theme.seriesColor(k / m))
        }
        ellipses.render(in: area, into: &buffer)
        if shadesOthers(la, expert: expert) {
            // The other components' means as shading by prior mass (light, medium, dark thirds of the
            // largest cell), under the points and only where no ellipse passes.
            let mass = meanDensity(la, shown: components, frame: frame, columns: area.width, rows: area.height)
            let top = mass.max() ?? 0
            let shades: [Character] = theme.unicode ? ["░", "▒", "▓"] : [".", ":", "#"]
            for row in 0..<area.height where top > 0 {
                for column in 0..<area.width where mass[row * area.width + column] > 0 && ellipses.glyph(column: column, row: row) == nil {
                    let level = min(2, Int(3 * mass[row * area.width + column] / top))
                    buffer.set(Cell(shades[level], style: Style(dim: true)), x: area.x + column, y: area.y + row)
                }
            }
        }
        if theme.colored {
            var points = BrailleCanvas(columns: area.width, rows: area.height, viewport: frame.shown, mode: theme.mode)
            for (i, p) in la.points.enumerated() {
                points.point(DataPoint(x: p.0, y: p.1), color: theme.seriesColor(groups[i]))
            }
            overlay(points, on: ellipses, theme: theme, in: area, into: &buffer)
        } else {
            renderMajority(la.points, groups: groups, frame: frame, in: area, into: &buffer)
        }
        for k in components {
            guard let c = frame.cell(of: la.means[k], columns: area.width, rows: area.height) else { continue }
            buffer.set(Cell(theme.meanMark, style: Style(fg: theme.seriesColor(k / m), bold: true)), x: area.x + c.column, y: area.y + c.row)
        }
        if cursor >= 0, cursor < la.points.count, let c = frame.cell(of: la.points[cursor], columns: area.width, rows: area.height) {
            buffer.set(Cell(theme.cursorMark, style: theme.selected), x: area.x + c.column, y: area.y + c.row)
        }
    }

    /// Draws the cells of `points` that hold dots, in their colour at full brightness; with braille
    /// the ellipse dots of the same cell are kept (the two dot patterns are OR-ed).
    static func overlay(_ points: BrailleCanvas, on ellipses: BrailleCanvas, theme: Theme, in area: Rect,
                        into buffer: inout ScreenBuffer) {
        // The canvas keeps its colours private: draw it into a scratch buffer and copy the dotted cells.
        var scratch = ScreenBuffer(width: area.width, height: area.height)
        points.render(in: scratch.bounds, into: &scratch)
        for row in 0..<scratch.height {
            for column in 0..<scratch.width {
                guard var glyph = points.glyph(column: column, row: row), let drawn = scratch.cell(x: column, y: row) else { continue }
                if theme.unicode, let under = ellipses.glyph(column: column, row: row),
                   let a = glyph.unicodeScalars.first?.value, let b = under.unicodeScalars.first?.value,
                   let merged = Unicode.Scalar(0x2800 | ((a - 0x2800) | (b - 0x2800))) {
                    glyph = Character(merged)
                }
                buffer.set(Cell(glyph, style: drawn.style), x: area.x + column, y: area.y + row)
            }
        }
    }

    /// Monochrome points: each cell shows the id glyph of the group with most points in it (ties to the lower id).
    static func renderMajority(_ points: [(Double, Double)], groups: [Int], frame: LatentFrame, in area: Rect,
                               into buffer: inout ScreenBuffer) {
        let groupCount = (groups.max() ?? 0) + 1
        guard groupCount > 0, !area.isEmpty else { return }
        var counts = [Int](repeating: 0, count: area.width * area.height * groupCount)
        for (i, p) in points.enumerated() {
            guard let c = frame.cell(of: p, columns: area.width, rows: area.height), groups[i] >= 0 else { continue }
            counts[(c.row * area.width + c.column) * groupCount + groups[i]] += 1
        }
        for row in 0..<area.height {
            for column in 0..<area.width {
                let base = (row * area.width + column) * groupCount
                var best = 0
                for g in 0..<groupCount where counts[base + g] > counts[base + best] { best = g }
                guard counts[base + best] > 0 else { continue }
                buffer.set(Cell(Theme.idGlyph(best), style: Style(bold: true)), x: area.x + column, y: area.y + row)
            }
        }
    }
}

import IdaTerminal

extension LayerView {
    /// The routing-entropy histogram of the shown layer over the probe (the paper's Figure 6): the
    /// share of tokens per entropy bin as bars on [0, log2 E] bits, the largest share and 0 on the y
    /// axis, 0, the middle and log2 E on the x axis, and the mean marked under it.
    static func renderEntropy(_ la: LayerAnalysis, router: String, theme: Theme, in area: Rect, into buffer: inout ScreenBuffer) {
        let h = EntropyHistogram(la)
        let mean = h.mean.isFinite ? theme.dot + "mean " + ViewFormat.fixed2(h.mean) + " bits" : ""
        let inner = Panel.draw("routing entropy" + mean + theme.dot + router + theme.dot + "\(h.tokens) tokens", in: area,
                               theme: theme, into: &buffer)
        guard inner.height >= 2, inner.width >= 12 else { return }
        guard h.tokens > 0 else {
            Panel.placeholder("no tokens with a finite entropy", in: inner, style: theme.muted, mode: theme.mode, into: &buffer)
            return
        }
        // Bars over all but the bottom row (x labels); the y labels to their left.
        let labelWidth = 6  // "12.5%" and a space
        let plot = Rect(x: inner.x + labelWidth, y: inner.y, width: inner.width - labelWidth, height: inner.height - 1)
        let n = bins(forWidth: plot.width)
        let shares = h.shares(bins: n)
        let barWidth = max(1, plot.width / n)
        let gap = barWidth >= 3 ? 1 : 0
        let bars = ColumnBars(values: shares, max: shares.max() ?? 1, barWidth: barWidth - gap, gap: gap,
                              style: Style(fg: theme.seriesColor(5)), mode: theme.mode)
        bars.render(in: plot, into: &buffer)
        Text(NumberText.percent(shares.max() ?? 0), style: theme.muted, alignment: .right, mode: theme.mode)
            .render(in: Rect(x: inner.x, y: plot.y, width: labelWidth - 1, height: 1), into: &buffer)
        if plot.height > 1 {
            Text("0", style: theme.muted, alignment: .right, mode: theme.mode)
                .render(in: Rect(x: inner.x, y: plot.maxY - 1, width: labelWidth - 1, height: 1), into: &buffer)
        }
        // The x axis under the bars: 0 at the left edge, log2 E at the right edge of the last bar.
        let axis = Rect(x: plot.x, y: plot.maxY, width: min(plot.width, bars.width), height: 1)
        let right = ViewFormat.fixed2(h.maxBits) + " bits"
        let middle = ViewFormat.fixed2(h.maxBits / 2)
        buffer.put("0", at: axis.x, y: axis.y, style: theme.muted, clip: axis)
        if axis.width >= DisplayWidth.of(right) + DisplayWidth.of(middle) + 6 {
            buffer.put(middle, at: axis.x + (axis.width - DisplayWidth.of(middle)) / 2, y: axis.y, style: theme.muted, clip: axis)
        }
        if axis.width > DisplayWidth.of(right) + 2 {
            buffer.put(right, at: axis.maxX - DisplayWidth.of(right), y: axis.y, style: theme.muted, clip: axis)
        }
        if h.mean.isFinite {
            let column = min(axis.width - 1, Int(h.mean / h.maxBits * Double(axis.width)))
            if let cell = buffer.cell(x: axis.x + column, y: axis.y), cell.text == " " {
                buffer.put(String(theme.caret), at: axis.x + column, y: axis.y, style: theme.strong, clip: axis)
            }
        }
    }

    /// Bins drawn in `width` columns: as many as give each bar two columns (one when narrower than 8).
    static func bins(forWidth width: Int) -> Int {
        EntropyHistogram.divisor(atMost: max(1, width >= 8 ? width / 2 : width))
    }
}

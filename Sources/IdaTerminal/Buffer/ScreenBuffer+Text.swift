extension ScreenBuffer {
    /// The cell text of each row (a wide grapheme once, its continuation adds nothing).
    public func lines(trimTrailingSpaces: Bool = false) -> [String] {
        (0..<height).map { y in
            var line = ""
            for x in 0..<width { line += cells[y * width + x].text }
            guard trimTrailingSpaces else { return line }
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// All rows joined by newlines: what a headless backend prints.
    public func text(trimTrailingSpaces: Bool = true) -> String {
        lines(trimTrailingSpaces: trimTrailingSpaces).joined(separator: "\n")
    }

    /// The cells that differ from `old`; every cell when the sizes differ.
    public func diff(from old: ScreenBuffer) -> [CellChange] {
        var changes: [CellChange] = []
        let sameSize = old.width == width && old.height == height
        for y in 0..<height {
            for x in 0..<width {
                let index = y * width + x
                if sameSize, old.cells[index] == cells[index] { continue }
                changes.append(CellChange(x: x, y: y, cell: cells[index]))
            }
        }
        return changes
    }
}

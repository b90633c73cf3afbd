/// How much of a split a part takes.
public enum SplitSize: Hashable, Sendable {
    /// Exactly this many cells (less if the space runs out).
    case fixed(Int)
    /// This fraction (0...1) of the space, rounded down.
    case ratio(Double)
    /// A share of what fixed and ratio parts leave, by weight; rounding remainders go to the first fills.
    case fill(Int)
}

/// The direction parts are laid out in.
public enum SplitAxis: Hashable, Sendable {
    /// Side by side, left to right (columns).
    case horizontal
    /// Stacked, top to bottom (rows).
    case vertical
}

extension Rect {
    /// Cuts the rectangle into parts along `axis`, with `spacing` empty cells between parts.
    public func split(_ axis: SplitAxis, _ sizes: [SplitSize], spacing: Int = 0) -> [Rect] {
        guard !sizes.isEmpty else { return [] }
        let length = axis == .horizontal ? width : height
        let total = max(0, length - max(0, spacing) * (sizes.count - 1))
        let lengths = Rect.lengths(sizes, total: total)
        var parts: [Rect] = []
        var offset = 0
        for part in lengths {
            let start = min(offset, length)
            let size = max(0, min(part, length - start))
            switch axis {
            case .horizontal: parts.append(Rect(x: x + start, y: y, width: size, height: height))
            case .vertical: parts.append(Rect(x: x, y: y + start, width: width, height: size))
            }
            offset += part + max(0, spacing)
        }
        return parts
    }

    /// Side-by-side parts (a horizontal split).
    public func columns(_ sizes: [SplitSize], spacing: Int = 0) -> [Rect] {
        split(.horizontal, sizes, spacing: spacing)
    }

    /// Stacked parts (a vertical split).
    public func rows(_ sizes: [SplitSize], spacing: Int = 0) -> [Rect] {
        split(.vertical, sizes, spacing: spacing)
    }

    /// Part lengths summing to at most `total`: fixed and ratio parts first, in order, then fills.
    static func lengths(_ sizes: [SplitSize], total: Int) -> [Int] {
        var remaining = total
        var lengths = Array(repeating: 0, count: sizes.count)
        var fillWeight = 0
        for (i, size) in sizes.enumerated() {
            switch size {
            case .fixed(let n):
                lengths[i] = min(max(0, n), remaining)
            case .ratio(let r):
                let wanted = r.isFinite ? Int((Double(total) * min(max(r, 0), 1)).rounded(.down)) : 0
                lengths[i] = min(wanted, remaining)
            case .fill(let w):
                fillWeight += max(0, w)
                continue
            }
            remaining -= lengths[i]
        }
        guard fillWeight > 0 else { return lengths }
        var leftover = remaining
        for (i, size) in sizes.enumerated() {
            guard case .fill(let w) = size else { continue }
            lengths[i] = remaining * max(0, w) / fillWeight
            leftover -= lengths[i]
        }
        for (i, size) in sizes.enumerated() where leftover > 0 {
            guard case .fill(let w) = size, w > 0 else { continue }
            lengths[i] += 1
            leftover -= 1
        }
        return lengths
    }
}

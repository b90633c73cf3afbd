/// Taking some rows of a routing: the first ones (tiles padded past the last token) or any run of
/// them (the windows of one domain in an evaluation batch).
extension RoutingResult {
    /// The routing of the first `n` tokens only (every per-token array cut to n rows).
    public func prefix(_ n: Int) -> RoutingResult {
        n < tokens ? rows(0..<n) : self
    }

    /// The routing of tokens `range` only (every per-token array cut to those rows).
    public func rows(_ range: Range<Int>) -> RoutingResult {
        precondition(range.lowerBound >= 0 && range.upperBound <= tokens, "rows \(range) of a \(tokens)-token routing")
        var r = self
        r.tokens = range.count
        // An empty array (posteriors left out) stays empty.
        func cut<T>(_ values: [T], _ width: Int) -> [T] {
            values.isEmpty ? [] : Array(values[(range.lowerBound * width)..<(range.upperBound * width)])
        }
        r.selected = cut(selected, topK)
        r.weights = cut(weights, topK)
        r.expertProbabilities = cut(expertProbabilities, experts)
        r.posterior = cut(posterior, posteriorWidth)
        r.entropyBits = cut(entropyBits, 1)
        r.logDensity = logDensity.map { cut($0, 1) }
        r.topComponent = topComponent.map { cut($0, 1) }
        r.latents = latents.map { $0.rows(range) }
        r.reconstructionError = reconstructionError.map { cut($0, 1) }
        r.rankedComponents = cut(rankedComponents, ranked)
        r.rankedPosteriors = cut(rankedPosteriors, ranked)
        return r
    }
}

extension RoutingResult {
    /// The routings of consecutive token blocks as one (every per-token array joined in order);
    /// the parts must agree on k, E and the posterior width, and carry the same optional arrays.
    public static func concatenated(_ parts: [RoutingResult]) -> RoutingResult {
        guard var out = parts.first else {
            preconditionFailure("concatenating no routings")
        }
        for p in parts.dropFirst() {
            precondition(p.topK == out.topK && p.experts == out.experts && p.posteriorWidth == out.posteriorWidth
                         && p.ranked == out.ranked,
                         "routings of different shapes")
            out.tokens += p.tokens
            out.selected += p.selected
            out.weights += p.weights
            out.expertProbabilities += p.expertProbabilities
            out.posterior += p.posterior
            out.entropyBits += p.entropyBits
            out.logDensity = out.logDensity.flatMap { a in p.logDensity.map { a + $0 } }
            out.topComponent = out.topComponent.flatMap { a in p.topComponent.map { a + $0 } }
            out.latents = out.latents.flatMap { a in p.latents.map { Matrix(rows: a.rows + $0.rows, cols: a.cols, data: a.data + $0.data) } }
            out.reconstructionError = out.reconstructionError.flatMap { a in p.reconstructionError.map { a + $0 } }
            out.rankedComponents += p.rankedComponents
            out.rankedPosteriors += p.rankedPosteriors
        }
        return out
    }
}

extension RoutingResult {
    /// This routing with each token's `count` most probable components ranked from its posteriors
    /// (`rankedComponents`, the same rule and values as `IDARouter.route(rankComponents:)` gives from
    /// its numerators); unchanged when it holds no component posteriors.
    public func rankingComponents(_ count: Int) -> RoutingResult {
        guard count > 0, topComponent != nil, posteriorWidth > 0, posterior.count == tokens * posteriorWidth else { return self }
        let k = posteriorWidth
        var components = [Int32](repeating: -1, count: tokens * count)
        var values = [Float](repeating: 0, count: tokens * count)
        posterior.withUnsafeBufferPointer { p in
            components.withUnsafeMutableBufferPointer { out in
                values.withUnsafeMutableBufferPointer { v in
                    for t in 0..<tokens {
                        let slots = (t * count)..<((t + 1) * count)
                        rankComponents(UnsafeBufferPointer(rebasing: p[(t * k)..<((t + 1) * k)]), scale: 1,
                                       into: UnsafeMutableBufferPointer(rebasing: out[slots]),
                                       posteriors: UnsafeMutableBufferPointer(rebasing: v[slots]))
                    }
                }
            }
        }
        var r = self
        r.ranked = count
        r.rankedComponents = components
        r.rankedPosteriors = values
        return r
    }
}

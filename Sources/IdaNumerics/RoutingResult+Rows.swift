/// Taking the first rows of a routing, for tiles padded past the last token.
extension RoutingResult {
    /// The routing of the first `n` tokens only (every per-token array cut to n rows).
    public func prefix(_ n: Int) -> RoutingResult {
        guard n < tokens else { return self }
        var r = self
        r.tokens = n
        r.selected = Array(selected[0..<(n * topK)])
        r.weights = Array(weights[0..<(n * topK)])
        r.expertProbabilities = Array(expertProbabilities[0..<(n * experts)])
        r.posterior = Array(posterior[0..<(n * posteriorWidth)])
        r.entropyBits = Array(entropyBits[0..<n])
        r.logDensity = logDensity.map { Array($0[0..<n]) }
        r.topComponent = topComponent.map { Array($0[0..<n]) }
        r.latents = latents.map { $0.rows(0..<n) }
        r.reconstructionError = reconstructionError.map { Array($0[0..<n]) }
        return r
    }
}

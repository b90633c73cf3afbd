import Foundation
import IdaFormats
import IdaNumerics

extension SyntheticCase {
    /// A size of the case, as a refusal names it.
    public enum Size: Sendable {
        case layers, experts, layerExperts, componentsPerExpert, width, latent, encoderHidden, topK, tokens
    }

    /// Why a case will not be written.
    public enum Refusal: Error, Sendable {
        /// `size` is `value`, outside `low...high`.
        case outOfRange(Size, value: Int, low: Int, high: Int)
        /// Experts x components per expert is above `limit` (`SizeLimits.components`) in some layer.
        case tooManyComponents(limit: Int)
        /// More encoder widths than `limit` (`SizeLimits.encoderLayers`).
        case tooManyEncoderLayers(limit: Int)
        /// The files would take about `needed` bytes (nil: beyond an `Int`), more than the `free` bytes
        /// of the file system holding `directory`.
        case noRoom(needed: Int?, free: Int, directory: String)
    }

    /// Refuses sizes the readers refuse (`SizeLimits`, the checkpoint contract's ranges), before
    /// anything is allocated.
    public func checkSizes() throws(Refusal) {
        func bounded(_ value: Int, _ low: Int, _ high: Int, _ size: Size) throws(Refusal) {
            guard value >= low && value <= high else { throw Refusal.outOfRange(size, value: value, low: low, high: high) }
        }
        try bounded(layers, 1, SizeLimits.blocks, .layers)
        try bounded(experts, 1, SizeLimits.experts, .experts)
        for count in layerExperts { try bounded(count, 1, SizeLimits.experts, .layerExperts) }
        try bounded(componentsPerExpert, 1, SizeLimits.componentsPerExpert, .componentsPerExpert)
        let largest = max(experts, layerExperts.max() ?? 0)
        guard (SizeLimits.product(largest, componentsPerExpert) ?? .max) <= SizeLimits.components else {
            throw Refusal.tooManyComponents(limit: SizeLimits.components)
        }
        try bounded(width, 1, SizeLimits.width, .width)
        try bounded(latent, 1, SizeLimits.latentDim, .latent)
        guard encoderHidden.count <= SizeLimits.encoderLayers else { throw Refusal.tooManyEncoderLayers(limit: SizeLimits.encoderLayers) }
        for w in encoderHidden { try bounded(w, 1, SizeLimits.width, .encoderHidden) }
        try bounded(topK, 1, min(SizeLimits.topK, layerExperts.min() ?? experts), .topK)
        try bounded(tokens, 1, SizeLimits.tokens, .tokens)
    }

    /// Bytes of memory the probe's tokens, domains and documents take while the file is written, about
    /// (nil when beyond an `Int`).
    public var probeMemoryBytes: Int? { SizeLimits.product(tokens, 16) }

    /// Bytes the two files take, about (the probe's hidden states dominate); nil when beyond an `Int`.
    public var fileBytes: Int? {
        let perLayerRouter = SizeLimits.product([max(experts, layerExperts.max() ?? 0), componentsPerExpert, 2 * latent + 1, 8])
        return SizeLimits.sum([
            SizeLimits.product([tokens, width, layers, dtype.byteSize]),
            SizeLimits.product(tokens, 12),
            perLayerRouter.flatMap { SizeLimits.product(layers, $0) },
        ])
    }

    /// Refuses to start when the files would not fit the free space of the file system holding
    /// `directory` (or its nearest existing parent).
    public func checkRoom(in directory: String) throws(Refusal) {
        var probe = directory.isEmpty ? "." : directory
        var info = statvfs()
        while statvfs(probe, &info) != 0 {
            let parent = (probe as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != probe else { return }
            probe = parent
        }
        guard info.f_blocks > 0 else { return }  // a pseudo file system (/proc) reports no size: creating fails instead
        let free = SizeLimits.product(Int(info.f_bavail), Int(info.f_frsize)) ?? .max
        guard let needed = fileBytes, needed <= free else { throw Refusal.noRoom(needed: fileBytes, free: free, directory: directory) }
    }
}

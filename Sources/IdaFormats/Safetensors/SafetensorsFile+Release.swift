import Foundation

extension SafetensorsFile {
    /// Tells the kernel that `rows` of tensor `name` will not be read again soon, so the mapped pages
    /// lying wholly inside them leave the process's resident memory (they are read again from the
    /// file if they are touched later). Streaming readers call it after converting a block, so that
    /// resident memory follows the block size, not the file size. Unknown names and empty ranges are
    /// ignored; the call never changes what is read.
    public func releaseRows(_ name: String, rows: Range<Int>) {
        guard let info = info(name), let rowCount = info.shape.first, rowCount > 0, !rows.isEmpty,
              rows.lowerBound >= 0, rows.upperBound <= rowCount else { return }
        let rowBytes = info.byteRange.count / rowCount
        let bytes = rawBytes(info)
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) + rows.lowerBound * rowBytes
        let end = Int(bitPattern: base) + rows.upperBound * rowBytes
        // Whole pages only: a page shared with rows outside the range stays mapped in.
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(address, last - first, Int32(MADV_DONTNEED))
    }
}

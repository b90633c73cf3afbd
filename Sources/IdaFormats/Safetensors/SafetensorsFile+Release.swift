import Foundation

extension SafetensorsFile {
    /// The most Linux maps in around one faulting page of a file mapping: the fault-around window
    /// (`fault_around_bytes`, 64 KiB by default) over cached small pages, or a whole large page-cache
    /// folio, up to a PMD (2 MiB on x86-64). Reading one row can bring that much in, behind as well
    /// as ahead.
    public static let faultAroundBytes = 2 << 20

    /// Tells the kernel that `rows` of tensor `name` will not be read again soon, so the mapped pages
    /// lying wholly inside them, and inside the fault-around window on either side, leave the
    /// process's resident memory (they are read again from the file if they are touched later).
    /// Streaming readers call it after converting a block, so that resident memory follows the block
    /// size, not the file size. The window matters: a read maps in neighbouring pages that their own
    /// readers may already have converted and released, and nothing else would release them again
    /// (a 1M-token probe kept an eighth of its small-row hidden states resident through fault-around,
    /// and whole large folios of it behind the read position). Releasing pages someone is still
    /// reading only makes them fault in again; pages already unmapped cost only a page-table walk.
    /// Unknown names and empty ranges are ignored; the call never changes what is read.
    public func releaseRows(_ name: String, rows: Range<Int>) {
        guard let info = info(name), let rowCount = info.shape.first, rowCount > 0, !rows.isEmpty,
              rows.lowerBound >= 0, rows.upperBound <= rowCount else { return }
        let rowBytes = info.byteRange.count / rowCount
        let bytes = rawBytes(info)
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let tensorStart = Int(bitPattern: base), tensorEnd = tensorStart + info.byteRange.count
        let start = max(tensorStart, tensorStart + rows.lowerBound * rowBytes - Self.faultAroundBytes)
        let end = min(tensorEnd, tensorStart + rows.upperBound * rowBytes + Self.faultAroundBytes)
        // Whole pages only: a page shared with another tensor (or rows outside the window) stays mapped in.
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(address, last - first, Int32(MADV_DONTNEED))
    }
}

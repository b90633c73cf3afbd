import Foundation

/// What this process has used so far: resident memory and CPU time, as the benchmarks report them.
public enum ResourceUsage {
    /// Peak resident memory of this process in MiB (`getrusage`'s `ru_maxrss`).
    public static func peakResidentMiB() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return .nan }
        return Double(usage.ru_maxrss) / 1024  // Linux reports KiB
    }

    /// Resident memory of this process now, MiB (/proc/self/statm, pages).
    public static func residentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return .nan }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / (1024 * 1024)
    }

    /// User plus system CPU seconds of the whole process (every thread), or with `thread` of the
    /// calling thread alone.
    public static func cpuSeconds(thread: Bool = false) -> Double {
        var usage = rusage()
        let rusageThread: Int32 = 1  // RUSAGE_THREAD (Linux); Glibc's module does not export it
        guard getrusage(thread ? rusageThread : RUSAGE_SELF.rawValue, &usage) == 0 else { return .nan }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

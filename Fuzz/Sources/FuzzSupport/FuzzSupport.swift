import CFuzzDriver
import Foundation

/// Hands `callback` to libFuzzer's driver with this process's arguments and exits with its status.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// Writes one fuzz input to this process's scratch file named `name` and returns its path (the
/// readers under test open files, as the product does).
public func fuzzInputFile(_ data: UnsafePointer<UInt8>, _ size: Int, name: String) -> String {
    let path = NSTemporaryDirectory() + "idamoe-fuzz-\(getpid())-" + name
    // Plain open/write: FileManager.createFile writes a temporary file and renames it, several
    // times slower per input.
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    if fd >= 0 {
        var done = 0
        while done < size {
            let n = write(fd, data + done, size - done)
            if n <= 0 { break }
            done += n
        }
        close(fd)
    }
    return path
}

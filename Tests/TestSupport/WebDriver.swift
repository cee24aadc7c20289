// A small W3C WebDriver client for the viewer's browser tests: chromedriver driving headless
// Chromium (Debian's `chromium` and `chromium-driver`), over HTTP on loopback.

import Foundation

public struct WebDriverError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// One HTTP/1.1 exchange over a socket on loopback (Connection: close; the answer is read to the
/// end), with a JSON body when given.
public func httpExchange(_ method: String, _ url: URL, json: Any? = nil, headers: [String: String] = [:], timeout: Double = 30) throws -> (status: Int, body: Data) {
    guard let port = url.port else { throw WebDriverError("\(url) has no port") }
    var path = url.path.isEmpty ? "/" : url.path
    if let query = url.query { path += "?" + query }
    let body = try json.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
    var head = "\(method) \(path) HTTP/1.1\r\nHost: \(headers["Host"] ?? "127.0.0.1:\(port)")\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
    if json != nil { head += "Content-Type: application/json\r\n" }
    for (k, v) in headers where k != "Host" { head += "\(k): \(v)\r\n" }
    let answer = try rawExchange(port: port, Data((head + "\r\n").utf8) + body, timeout: timeout)
    guard let split = answer.range(of: Data("\r\n\r\n".utf8)) else { throw WebDriverError("no HTTP answer from \(url)") }
    let headText = String(decoding: answer[..<split.lowerBound], as: UTF8.self)
    let status = headText.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    var content = Data(answer[split.upperBound...])
    if headText.lowercased().contains("transfer-encoding: chunked") { content = dechunk(content) }
    return (status, content)
}

func dechunk(_ data: Data) -> Data {
    var out = Data(), rest = data[...]
    while let line = rest.range(of: Data("\r\n".utf8)) {
        let size = Int(String(decoding: rest[..<line.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
        if size == 0 { break }
        let start = line.upperBound
        guard rest.distance(from: start, to: rest.endIndex) >= size else { break }
        let end = rest.index(start, offsetBy: size)
        out += rest[start..<end]
        rest = rest[min(rest.endIndex, rest.index(end, offsetBy: 2))...]
    }
    return out
}

/// Sends `request` to 127.0.0.1:`port` and reads until the other side closes.
func rawExchange(port: Int, _ request: Data, timeout: Double) throws -> Data {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw WebDriverError("no socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard connected == 0 else { throw WebDriverError("could not connect to port \(port)") }
    let bytes = [UInt8](request)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }
        sent += n
    }
    // Read to the end of the answer: its Content-Length, the last chunk, or the peer closing
    // (some servers keep the connection open whatever the request said).
    var answer = Data(), buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        answer.append(contentsOf: buffer[0..<n])
        guard let split = answer.range(of: Data("\r\n\r\n".utf8)) else { continue }
        let head = String(decoding: answer[..<split.lowerBound], as: UTF8.self).lowercased()
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
            if answer.count - split.upperBound >= length { break }
        } else if head.contains("transfer-encoding: chunked") {
            if answer.suffix(5) == Data("0\r\n\r\n".utf8) { break }
        }
    }
    return answer
}

public final class WebDriver {
    public static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    let driver: Process
    let base: URL
    public let session: String

    /// Paths of chromedriver and Chromium, when installed.
    public static var installed: (driver: String, browser: String)? {
        let drivers = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        let browsers = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
        guard let d = drivers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              let b = browsers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        return (d, b)
    }

    public init(width: Int = 1600, height: Int = 1000) throws {
        guard let (driverPath, browserPath) = Self.installed else { throw WebDriverError("chromium and chromium-driver are not installed") }
        let port = 9515 + Int.random(in: 0..<2000)
        driver = Process()
        driver.executableURL = URL(fileURLWithPath: driverPath)
        driver.arguments = ["--port=\(port)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        base = URL(string: "http://127.0.0.1:\(port)")!
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let (status, _) = try? httpExchange("GET", base.appendingPathComponent("status"), timeout: 2), status == 200 { break }
            if Date() > deadline { driver.terminate(); throw WebDriverError("chromedriver did not start") }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": [
            "binary": browserPath,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=\(width),\(height)", "--force-device-scale-factor=1"],
        ]]]]
        let (status, body) = try httpExchange("POST", base.appendingPathComponent("session"), json: capabilities, timeout: 60)
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any],
              let value = object["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            driver.terminate()
            throw WebDriverError("chromedriver refused a session: \(String(decoding: body, as: UTF8.self).prefix(400))")
        }
        session = id
    }

    deinit { quit() }

    public func quit() {
        guard driver.isRunning else { return }
        _ = try? httpExchange("DELETE", base.appendingPathComponent("session/\(session)"), timeout: 10)
        driver.terminate()
        let deadline = Date().addingTimeInterval(3)
        while driver.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
    }

    @discardableResult
    func call(_ method: String, _ path: String, _ json: Any? = nil) throws -> Any? {
        let (status, body) = try httpExchange(method, base.appendingPathComponent("session/\(session)/\(path)"), json: json ?? (method == "POST" ? [String: Any]() : nil))
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        guard status == 200 else {
            let value = object?["value"] as? [String: Any]
            throw WebDriverError("\(method) \(path): \(status) \(value?["message"] as? String ?? String(decoding: body.prefix(300), as: UTF8.self))")
        }
        return object?["value"] ?? nil
    }

    public func open(_ url: String) throws { try call("POST", "url", ["url": url]) }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page and returns its value.
    @discardableResult
    public func run(_ script: String, _ args: [Any] = []) throws -> Any? { try call("POST", "execute/sync", ["script": script, "args": args]) }

    public func element(_ css: String) throws -> String {
        guard let value = try call("POST", "element", ["using": "css selector", "value": css]) as? [String: Any],
              let id = value[Self.elementKey] as? String else { throw WebDriverError("no element \(css)") }
        return id
    }

    public func click(_ css: String) throws { try call("POST", "element/\(try element(css))/click") }

    public func type(_ css: String, _ text: String) throws {
        let id = try element(css)
        try call("POST", "element/\(id)/clear")
        try call("POST", "element/\(id)/value", ["text": text])
    }

    /// Presses keys as a user does (key down and up for each character).
    public func press(_ keys: String) throws {
        let actions = keys.map { [["type": "keyDown", "value": String($0)], ["type": "keyUp", "value": String($0)]] }.flatMap { $0 }
        try call("POST", "actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions]]])
    }

    /// Drags with the mouse from the centre of one element to the centre of another.
    public func drag(_ from: String, onto to: String) throws {
        let a = [Self.elementKey: try element(from)], b = [Self.elementKey: try element(to)]
        let steps: [[String: Any]] = [
            ["type": "pointerMove", "duration": 0, "origin": a, "x": 0, "y": 0],
            ["type": "pointerDown", "button": 0],
            ["type": "pointerMove", "duration": 150, "origin": b, "x": 0, "y": 0],
            ["type": "pointerUp", "button": 0],
        ]
        try call("POST", "actions", ["actions": [["type": "pointer", "id": "mouse", "parameters": ["pointerType": "mouse"], "actions": steps]]])
        try call("DELETE", "actions")
    }

    public func answerPrompt(_ text: String) throws {
        try call("POST", "alert/text", ["text": text])
        try call("POST", "alert/accept")
    }

    public func acceptAlert() throws { try call("POST", "alert/accept") }

    /// Waits until `script` returns a truthy value (within `timeout` seconds) and returns it.
    @discardableResult
    public func wait(_ script: String, timeout: Double = 15, _ what: String) throws -> Any {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let value = try? run(script), !(value is NSNull) {
                if let b = value as? Bool { if b { return b } } else if let n = value as? NSNumber { if n.doubleValue != 0 { return n } } else if let s = value as? String { if !s.isEmpty { return s } } else { return value }
            }
            if Date() > deadline { throw WebDriverError("timed out waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    public func screenshot(to path: String) throws {
        guard let text = try call("GET", "screenshot") as? String, let data = Data(base64Encoded: text) else { throw WebDriverError("no screenshot") }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// Raw HTTP/1.1 over a socket: requests a browser would not send (a foreign Host header, an
/// oversized body). The request should say `Connection: close`. Returns the status and the answer.
public func rawHTTP(port: Int, _ request: String) throws -> (status: Int, text: String) {
    let text = String(decoding: try rawExchange(port: port, Data(request.utf8), timeout: 10), as: UTF8.self)
    let status = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return (status, text)
}

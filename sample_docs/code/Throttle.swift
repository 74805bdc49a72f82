import Foundation

/// Limits how often an action may run: at most `limit` calls per `interval`.
final class Throttle {
    private let limit: Int
    private let interval: TimeInterval
    private var stamps: [Date] = []
    private let lock = NSLock()

    init(limit: Int, per interval: TimeInterval) {
        precondition(limit > 0, "limit must be positive")
        self.limit = limit
        self.interval = interval
    }

    /// Runs `action` when allowed; returns whether it ran.
    @discardableResult
    func run(_ action: () -> Void) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        stamps.removeAll { now.timeIntervalSince($0) > interval }
        guard stamps.count < limit else {
            return false
        }
        stamps.append(now)
        action()
        return true
    }

    var remaining: Int {
        lock.lock()
        defer { lock.unlock() }
        return max(0, limit - stamps.count)
    }
}

struct Window {
    let start: Date
    let length: TimeInterval

    func contains(_ date: Date) -> Bool {
        date >= start && date < start.addingTimeInterval(length)
    }
}

protocol Clock {
    func now() -> Date
}

enum Outcome {
    case ran
    case throttled(retryAfter: TimeInterval)
}

extension Throttle {
    func attempt(_ action: () -> Void) -> Outcome {
        run(action) ? .ran : .throttled(retryAfter: interval)
    }
}

func describe(_ outcome: Outcome) -> String {
    switch outcome {
    case .ran:
        return "ran"
    case .throttled(let retry):
        return "throttled, retry after \(retry)s"
    }
}

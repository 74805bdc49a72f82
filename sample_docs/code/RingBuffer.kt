package demo.collections

import kotlin.math.min

/**
 * A fixed-size ring buffer: writing past capacity overwrites the oldest element.
 */
class RingBuffer<T>(private val capacity: Int) : Iterable<T> {
    private val slots = arrayOfNulls<Any>(capacity)
    private var head = 0
    private var size = 0

    init {
        require(capacity > 0) { "capacity must be positive" }
    }

    fun push(value: T) {
        slots[(head + size) % capacity] = value
        if (size < capacity) {
            size++
        } else {
            head = (head + 1) % capacity
        }
    }

    @Suppress("UNCHECKED_CAST")
    fun pop(): T? {
        if (size == 0) {
            return null
        }
        val value = slots[head] as T
        slots[head] = null
        head = (head + 1) % capacity
        size--
        return value
    }

    fun last(n: Int): List<T> {
        val count = min(n, size)
        return toList().takeLast(count)
    }

    override fun iterator(): Iterator<T> = object : Iterator<T> {
        private var index = 0

        override fun hasNext(): Boolean = index < size

        @Suppress("UNCHECKED_CAST")
        override fun next(): T {
            val value = slots[(head + index) % capacity] as T
            index++
            return value
        }
    }

    companion object {
        fun <T> of(vararg values: T): RingBuffer<T> {
            val buffer = RingBuffer<T>(values.size)
            values.forEach { buffer.push(it) }
            return buffer
        }
    }
}

interface Sink<T> {
    fun accept(value: T)
}

enum class Mode {
    OVERWRITE,
    REJECT,
}

fun <T> RingBuffer<T>.drainTo(sink: Sink<T>) {
    while (true) {
        val value = pop() ?: break
        sink.accept(value)
    }
}

-- A least-recently-used cache with a fixed capacity.
local LRU = {}
LRU.__index = LRU

local function new_node(key, value)
  return { key = key, value = value, prev = nil, next = nil }
end

function LRU.new(capacity)
  assert(capacity and capacity > 0, "capacity must be positive")
  local self = setmetatable({}, LRU)
  self.capacity = capacity
  self.size = 0
  self.map = {}
  self.head = new_node()
  self.tail = new_node()
  self.head.next = self.tail
  self.tail.prev = self.head
  return self
end

local function unlink(node)
  node.prev.next = node.next
  node.next.prev = node.prev
end

function LRU:push_front(node)
  node.next = self.head.next
  node.prev = self.head
  self.head.next.prev = node
  self.head.next = node
end

function LRU:get(key)
  local node = self.map[key]
  if not node then
    return nil
  end
  unlink(node)
  self:push_front(node)
  return node.value
end

function LRU:set(key, value)
  local node = self.map[key]
  if node then
    node.value = value
    unlink(node)
  else
    if self.size == self.capacity then
      local oldest = self.tail.prev
      unlink(oldest)
      self.map[oldest.key] = nil
      self.size = self.size - 1
    end
    node = new_node(key, value)
    self.map[key] = node
    self.size = self.size + 1
  end
  self:push_front(node)
end

function LRU:keys()
  local out, node = {}, self.head.next
  while node ~= self.tail do
    out[#out + 1] = node.key
    node = node.next
  end
  return out
end

return LRU

# frozen_string_literal: true

require "json"
require "time"

# Stock keeping for a small shop: items, reservations and a JSON export.
module Inventory
  class OutOfStock < StandardError; end

  # One article on the shelf.
  class Item
    attr_reader :sku, :name, :quantity

    def initialize(sku:, name:, quantity: 0)
      @sku = sku
      @name = name
      @quantity = quantity
    end

    def reserve!(count)
      raise OutOfStock, "#{name}: only #{quantity} left" if count > quantity

      @quantity -= count
      self
    end

    def to_h
      { sku: sku, name: name, quantity: quantity }
    end
  end

  # All items, by SKU.
  class Store
    include Enumerable

    def initialize
      @items = {}
      @log = []
    end

    def add(item)
      @items[item.sku] = item
      @log << [:add, item.sku, Time.now.utc.iso8601]
      item
    end

    def each(&block)
      @items.each_value(&block)
    end

    def reserve(sku, count)
      item = @items.fetch(sku) { raise KeyError, "unknown SKU #{sku}" }
      item.reserve!(count)
      @log << [:reserve, sku, count]
    end

    def self.from_json(text)
      store = new
      JSON.parse(text, symbolize_names: true).each do |row|
        store.add(Item.new(**row))
      end
      store
    end

    def to_json(*_args)
      JSON.pretty_generate(map(&:to_h))
    end
  end
end

def low_stock(store, threshold = 3)
  store.select { |item| item.quantity < threshold }.map(&:name)
end

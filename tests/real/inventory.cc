/*
 * inventory.cc - the C++ program the real-program tests compile with g++
 * under the runtime (tests/e2e/test_real_programs.py).
 *
 * Deterministic and self-contained, written to give cc1plus real work:
 * the standard containers and algorithms, templates, virtual dispatch,
 * lambdas, exceptions and string streams.  The object is linked and run
 * and its output compared with the same file compiled without the runtime.
 * It simulates a small warehouse: items of three kinds arrive and leave
 * by a fixed pseudo-random schedule, and it prints stock, values and the
 * orders that could not be filled.
 */
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

class Rng {
public:
	explicit Rng(std::uint64_t seed) : s_(seed) {}
	std::uint64_t next()
	{
		s_ ^= s_ >> 12;
		s_ ^= s_ << 25;
		s_ ^= s_ >> 27;
		return s_ * 0x2545f4914f6cdd1dull;
	}
	unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }

private:
	std::uint64_t s_;
};

class Item {
public:
	Item(std::string name, unsigned cents) : name_(std::move(name)), cents_(cents) {}
	virtual ~Item() = default;
	const std::string &name() const { return name_; }
	virtual unsigned price(unsigned qty) const { return cents_ * qty; }
	virtual std::string kind() const = 0;

protected:
	std::string name_;
	unsigned cents_;
};

class Bulk : public Item {
public:
	using Item::Item;
	unsigned price(unsigned qty) const override
	{
		unsigned p = cents_ * qty;
		return qty >= 10 ? p - p / 10 : p;
	}
	std::string kind() const override { return "bulk"; }
};

class Fragile : public Item {
public:
	using Item::Item;
	unsigned price(unsigned qty) const override { return cents_ * qty + 150; }
	std::string kind() const override { return "fragile"; }
};

class Plain : public Item {
public:
	using Item::Item;
	std::string kind() const override { return "plain"; }
};

struct OutOfStock : std::runtime_error {
	OutOfStock(const std::string &what, unsigned want, unsigned have)
		: std::runtime_error(what), want(want), have(have) {}
	unsigned want, have;
};

template <typename Key, typename Value>
class Ledger {
public:
	void add(const Key &k, Value v) { m_[k] += v; }
	Value take(const Key &k, Value v)
	{
		auto it = m_.find(k);
		Value have = it == m_.end() ? Value{} : it->second;
		if (have < v) {
			std::ostringstream os;
			os << k;
			throw OutOfStock(os.str(), v, have);
		}
		it->second -= v;
		return v;
	}
	template <typename F> void each(F f) const
	{
		for (const auto &kv : m_)
			f(kv.first, kv.second);
	}
	Value total() const
	{
		return std::accumulate(m_.begin(), m_.end(), Value{},
				       [](Value s, const auto &kv) { return s + kv.second; });
	}

private:
	std::map<Key, Value> m_;
};

std::unique_ptr<Item> make_item(unsigned i)
{
	static const char *const names[] = { "bolt", "nut", "gear", "lamp", "vase", "rope",
					     "pipe", "tile", "wire", "lens", "cup", "fan" };
	std::string name = names[i % 12];
	name += "-" + std::to_string(i / 12);
	unsigned cents = 25 + (i * 37) % 400;
	switch (i % 3) {
	case 0: return std::make_unique<Bulk>(name, cents);
	case 1: return std::make_unique<Fragile>(name, cents);
	default: return std::make_unique<Plain>(name, cents);
	}
}

struct Report {
	unsigned filled = 0, failed = 0;
	std::uint64_t revenue = 0;
	std::map<std::string, unsigned> shortfall;
};

} // namespace

int main()
{
	std::vector<std::unique_ptr<Item>> catalog;
	for (unsigned i = 0; i < 48; i++)
		catalog.push_back(make_item(i));
	std::unordered_map<std::string, const Item *> by_name;
	for (const auto &it : catalog)
		by_name.emplace(it->name(), it.get());

	Ledger<std::string, unsigned> stock;
	Rng rng(42);
	Report rep;
	for (unsigned day = 0; day < 4000; day++) {
		const Item &in = *catalog[rng.below(catalog.size())];
		stock.add(in.name(), 1 + rng.below(20));
		for (int k = 0; k < 2; k++) {
			const Item &out = *catalog[rng.below(catalog.size())];
			unsigned qty = 1 + rng.below(15);
			try {
				stock.take(out.name(), qty);
				rep.filled++;
				rep.revenue += out.price(qty);
			} catch (const OutOfStock &e) {
				rep.failed++;
				rep.shortfall[e.what()] += e.want - e.have;
			}
		}
	}

	std::vector<std::pair<std::string, unsigned>> left;
	stock.each([&](const std::string &k, unsigned v) { left.emplace_back(k, v); });
	std::sort(left.begin(), left.end(), [](const auto &a, const auto &b) {
		return a.second != b.second ? a.second > b.second : a.first < b.first;
	});
	std::cout << "filled " << rep.filled << " failed " << rep.failed << " revenue "
		  << rep.revenue / 100 << '.' << std::setw(2) << std::setfill('0')
		  << rep.revenue % 100 << '\n';
	std::cout << "units left " << stock.total() << '\n';
	for (std::size_t i = 0; i < 5 && i < left.size(); i++)
		std::cout << std::setfill(' ') << std::left << std::setw(10) << left[i].first
			  << std::right << std::setw(6) << left[i].second << ' '
			  << by_name.at(left[i].first)->kind() << '\n';
	auto worst = std::max_element(rep.shortfall.begin(), rep.shortfall.end(),
				      [](const auto &a, const auto &b) { return a.second < b.second; });
	if (worst != rep.shortfall.end())
		std::cout << "worst shortfall " << worst->first << ' ' << worst->second << '\n';
	std::map<std::string, unsigned> kinds;
	for (const auto &kv : left)
		kinds[by_name.at(kv.first)->kind()] += kv.second;
	for (const auto &kv : kinds)
		std::cout << kv.first << ' ' << kv.second << '\n';
	return 0;
}

# frozen_string_literal: true

# A stand-in for Homebrew's Formula DSL, for tests on machines without Homebrew.
#
#   ruby test/rig/formula_standin.rb Formula/kiln.rb
#
# loads the formula once per simulated platform (macOS and Linux, arm64 and x86_64), with
# OS.mac?/OS.linux? and Hardware::CPU.arm?/intel? answering for that platform, and prints JSON:
# the class name, the metadata, and per platform the url and sha256 the formula chose (null when
# it has none there), then the calls `def install` and the `test do` block make. The DSL is strict
# where a generated formula could go wrong: unknown methods, wrong argument types, a url or
# sha256 set twice on one platform, a url without a sha256, a class name other than the one
# Homebrew derives from the file name, on_macos inside on_linux. Any of those prints
# "standin: <what>" on stderr and exits 1.

require "json"

# The simulated platform.
module StandIn
  class << self
    attr_accessor :os, :arch, :loaded
  end
  self.loaded = []

  # Homebrew's Formulary.class_s, written independently of kiln's TypeScript.
  def self.class_name(name)
    s = name.capitalize
    s = s.gsub(/[-_.\s]([a-zA-Z0-9])/) { Regexp.last_match(1).upcase }
    s = s.tr("+", "x")
    s.sub(/(.)@(\d)/, "\\1AT\\2")
  end
end

class StandInError < StandardError; end

module OS
  def self.mac? = StandIn.os == :macos
  def self.linux? = StandIn.os == :linux
end

module Hardware
  class CPU
    def self.arm? = StandIn.arch == :arm64
    def self.intel? = StandIn.arch == :x86_64
    def self.is_64_bit? = true
  end
end

# A keg folder (bin, man1, ...): interpolates to a fixed path and records install calls.
class KegPath
  def initialize(name, path, log)
    @name = name
    @path = path
    @log = log
  end

  def to_s = @path
  def to_str = @path
  def /(other) = KegPath.new("#{@name}/#{other}", "#{@path}/#{other}", @log)

  def install(*args)
    raise StandInError, "#{@name}.install needs something to install" if args.empty?

    @log << ["#{@name}.install", *args.map { |a| a.is_a?(Hash) ? a.to_a.flatten.map(&:to_s) : a.to_s }.flatten]
  end

  def install_symlink(*args) = @log << ["#{@name}.install_symlink", *args.map(&:to_s)]
end

class Formula
  SHA256 = /\A[0-9a-f]{64}\z/
  PREFIX = "/standin/prefix"
  KEG = {
    bin: "bin", sbin: "sbin", lib: "lib", libexec: "libexec", include: "include",
    share: "share", pkgshare: "share/pkg", doc: "share/doc", man: "share/man",
    man1: "share/man/man1", etc: "etc", bash_completion: "etc/bash_completion.d",
    zsh_completion: "share/zsh/site-functions", fish_completion: "share/fish/vendor_completions.d",
  }.freeze

  class << self
    attr_reader :fields, :deps, :test_block

    def inherited(sub)
      super
      sub.instance_variable_set(:@fields, {})
      sub.instance_variable_set(:@deps, [])
      sub.instance_variable_set(:@block, nil)
      StandIn.loaded << sub
    end

    def set(key, value, allowed = String)
      raise StandInError, "#{key} takes a #{allowed}, got #{value.inspect}" unless value.is_a?(allowed)
      raise StandInError, "#{key} set twice" if @fields.key?(key)

      @fields[key] = value
    end

    def desc(v) = set(:desc, v)
    def homepage(v) = set(:homepage, v)
    def version(v) = set(:version, v)

    def license(v = nil, any_of: nil, all_of: nil)
      given = [v, any_of, all_of].compact
      raise StandInError, "license takes one of a string, any_of: or all_of:" unless given.size == 1

      list = any_of || all_of
      if list && !(list.is_a?(Array) && list.size > 1 && list.all?(String))
        raise StandInError, "license any_of:/all_of: takes a list of SPDX ids"
      end

      set(:license, v ? v : { (any_of ? "any_of" : "all_of") => list }, v ? String : Hash)
    end

    def url(v, **opts)
      raise StandInError, "url options are not expected here: #{opts.keys}" unless opts.empty?

      set(:url, v)
    end

    def sha256(v)
      raise StandInError, "sha256 must be 64 lowercase hex digits, got #{v.inspect}" unless v.is_a?(String) && SHA256.match?(v)

      set(:sha256, v)
    end

    def on_system(name, active)
      raise StandInError, "#{name} inside #{@block}" if @block
      raise StandInError, "#{name} needs a block" unless block_given?

      @block = name
      yield if active
    ensure
      @block = nil
    end

    def on_macos(&b) = on_system(:on_macos, OS.mac?, &b)
    def on_linux(&b) = on_system(:on_linux, OS.linux?, &b)

    def depends_on(dep)
      case dep
      when :macos, :linux then @deps << dep.to_s
      when String then @deps << dep
      when Hash
        name, type = dep.first
        raise StandInError, "depends_on #{dep.inspect} is not name => :type" unless dep.size == 1 && name.is_a?(String) && %i[build test optional recommended].include?(type)

        @deps << "#{name} => #{type}"
      else raise StandInError, "depends_on takes a name, got #{dep.inspect}"
      end
    end

    def test(&block)
      raise StandInError, "test needs a block" unless block

      @test_block = block
    end

    def method_missing(name, *_args)
      raise StandInError, "unknown formula DSL method #{name}"
    end

    def respond_to_missing?(*) = false
  end

  attr_reader :log

  def initialize
    @log = []
  end

  KEG.each { |m, rel| define_method(m) { KegPath.new(m.to_s, "#{PREFIX}/#{rel}", @log) } }
  def prefix = KegPath.new("prefix", PREFIX, @log)
  def testpath = KegPath.new("testpath", "/standin/testpath", @log)
  def version = self.class.fields.fetch(:version)
  def system(*args) = @log << ["system", *args.map(&:to_s)]
  def shell_output(cmd, status = 0) = (@log << ["shell_output", cmd.to_s, status]) && ""
  def pipe_output(cmd, input = nil, status = 0) = (@log << ["pipe_output", cmd.to_s, input.to_s, status]) && ""
  def assert_match(exp, act) = @log << ["assert_match", exp.to_s, act.to_s]
  def assert_equal(exp, act) = @log << ["assert_equal", exp.to_s, act.to_s]
  def assert_predicate(obj, pred) = @log << ["assert_predicate", obj.to_s, pred.to_s]
  def assert_path_exists(path) = @log << ["assert_path_exists", path.to_s]

  def method_missing(name, *_args)
    raise StandInError, "unknown method #{name} in install or test"
  end

  def respond_to_missing?(*) = false
end

PLATFORMS = [[:macos, :arm64], [:macos, :x86_64], [:linux, :arm64], [:linux, :x86_64]].freeze

def load_for(path, os, arch)
  StandIn.loaded.each { |k| Object.send(:remove_const, k.name.to_sym) if k.name && Object.const_defined?(k.name) }
  StandIn.loaded = []
  StandIn.os = os
  StandIn.arch = arch
  load path
  raise StandInError, "#{path} defines #{StandIn.loaded.size} formulae, not one" unless StandIn.loaded.size == 1

  StandIn.loaded.first
end

def main(path)
  expected = StandIn.class_name(File.basename(path, ".rb"))
  out = { "platforms" => {} }
  PLATFORMS.each do |os, arch|
    k = load_for(path, os, arch)
    raise StandInError, "class is #{k.name}, Homebrew expects #{expected}" unless k.name == expected

    f = k.fields
    %i[desc homepage version license].each { |key| raise StandInError, "#{key} missing" unless f.key?(key) }
    raise StandInError, "url without sha256" if f.key?(:url) != f.key?(:sha256)
    raise StandInError, "def install missing" unless k.method_defined?(:install, false)
    raise StandInError, "test do block missing" unless k.test_block

    common = { "class" => k.name, "desc" => f[:desc], "homepage" => f[:homepage],
               "version" => f[:version], "license" => f[:license], "depends_on" => k.deps }
    raise StandInError, "metadata differs between platforms" if out.key?("class") && out.slice(*common.keys) != common

    out.merge!(common)
    keg = k.new
    keg.install
    install_log = keg.log.dup
    keg.log.clear
    keg.instance_exec(&k.test_block)
    out["install"] = install_log
    out["test"] = keg.log
    supported = !(k.deps.include?("macos") && os != :macos) && !(k.deps.include?("linux") && os != :linux)
    out["platforms"]["#{os}-#{arch}"] = f.key?(:url) ? { "url" => f[:url], "sha256" => f[:sha256], "supported" => supported } : nil
  end
  puts JSON.generate(out)
rescue StandInError, ScriptError, StandardError => e
  warn "standin: #{e.message.lines.first&.strip} (#{e.class})"
  exit 1
end

main(ARGV.fetch(0))

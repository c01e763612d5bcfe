#include "litestage/experiment/report.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "litestage/util/format.hpp"
#include "litestage/util/strings.hpp"

namespace litestage {

namespace {

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$') out += '\\';
    out += c;
  }
  return out;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

Interval MethodRow::accuracy_ci() const {
  return wilson_interval(static_cast<size_t>(summary.correct), static_cast<size_t>(summary.examples));
}

namespace {

std::string pct_ci(const MethodRow& r) {
  const Interval ci = r.accuracy_ci();
  return format("%.1f", 100 * r.summary.accuracy) + " [" + format("%.1f", 100 * ci.low) + ", " + format("%.1f", 100 * ci.high) +
         "]";
}

std::string latency_spread(const MethodRow& r) {
  if (!r.timing.measured()) return format("%.4f", r.summary.mean_seconds);
  return format("%.4f", r.timing.median()) + " (" + format("%.4f", r.timing.low()) + "–" + format("%.4f", r.timing.high()) + ")";
}

std::string speedup_ci(const MethodRow& r) {
  if (r.speedup_ci.high <= 0) return format("%.2fx", r.speedup());
  return format("%.2fx", r.speedup()) + " [" + format("%.2f", r.speedup_ci.low) + ", " + format("%.2f", r.speedup_ci.high) + "]";
}

std::string label_of(const MethodRow& r) { return r.label + (r.unconstrained ? " †" : ""); }

std::string capitalised(StageKind k) {
  std::string name(to_string(k));
  name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
  return name;
}

// Speculative rows: tokens gained per verify forward in each stage, "recall/analyze/summarize".
std::string tokens_per_verify(const MethodRow& r) {
  std::string out;
  for (auto kind : kStages) {
    const double t = r.summary.stages[kind].speculative.tokens_per_forward();
    out += (out.empty() ? "" : "/") + (t > 0 ? format("%.2f", t) : std::string("-"));
  }
  return out == "-/-/-" ? "" : out;
}

// The three tables' columns, written once: a column's header in each format ("" leaves it out of
// that table) and its cell. One order serves all three (each shows a subsequence of the CSV's).
enum class Fmt { Md, Csv, Tex };
using Cell = std::function<std::string(const MethodRow&, Fmt)>;
struct Column {
  std::array<std::string, 3> header;  // by Fmt
  Cell cell;
};

// A ratio: "1.25x", "1.2500", "1.25$\times$".
std::string ratio_cell(double v, Fmt f) {
  if (f == Fmt::Csv) return format("%.4f", v);
  return format("%.2f", v) + (f == Fmt::Tex ? "$\\times$" : "x");
}

std::string accuracy_cell(const MethodRow& r, Fmt f) {
  const Interval a = r.accuracy_ci();
  const double acc = r.summary.accuracy;
  if (f == Fmt::Csv) return format("%.6f", acc) + "," + format("%.6f", a.low) + "," + format("%.6f", a.high);
  if (f == Fmt::Tex)
    return format("%.1f", 100 * acc) + " {\\scriptsize[" + format("%.1f", 100 * a.low) + ", " +
           format("%.1f", 100 * a.high) + "]}";
  return pct_ci(r);
}

std::string total_cell(const MethodRow& r, Fmt f) {
  const double mean = r.summary.mean_seconds;
  if (f == Fmt::Csv) return format("%.6f", mean) + "," + format("%.6f", r.timing.low()) + "," + format("%.6f", r.timing.high());
  return f == Fmt::Tex ? format("%.4f", mean) : latency_spread(r);
}

std::string speedup_cell(const MethodRow& r, Fmt f) {
  if (f == Fmt::Csv)
    return format("%.4f", r.speedup()) + "," + format("%.4f", r.speedup_ci.low) + "," + format("%.4f", r.speedup_ci.high);
  return f == Fmt::Tex ? ratio_cell(r.speedup(), f) : speedup_ci(r);
}

std::string label_cell(const MethodRow& r, Fmt f) {
  if (f == Fmt::Csv) return csv_quote(r.label);
  if (f == Fmt::Tex) return latex_escape(r.label) + (r.unconstrained ? "$^\\dagger$" : "");
  return label_of(r);
}

// Columns of the CSV only.
void add_csv(std::vector<Column>& c, const std::string& header, std::function<std::string(const MethodRow&)> cell) {
  c.push_back({{"", header, ""}, [cell](const MethodRow& r, Fmt) { return cell(r); }});
}

std::vector<Column> make_columns() {
  std::vector<Column> c;
  add_csv(c, "method", [](const MethodRow& r) { return method_name(r.method); });
  c.push_back({{"method", "label", "Method"}, label_cell});
  add_csv(c, "epsilon", [](const MethodRow& r) { return r.epsilon >= 0 ? format("%g", r.epsilon) : ""; });
  c.push_back({{"acc % [95% CI]", "accuracy,accuracy_low,accuracy_high", "Acc. (\\%)"}, accuracy_cell});
  c.push_back({{"Δ acc", "delta_points", "$\\Delta$"}, [](const MethodRow& r, Fmt f) {
                 return format(f == Fmt::Csv ? "%.4f" : "%+.2f", r.delta_points());
               }});
  for (StageKind k : kStages) {
    const std::string name(to_string(k));
    c.push_back({{name + " (s)", name + "_s", capitalised(k) + " (s)"}, [k](const MethodRow& r, Fmt f) {
                   return format(f == Fmt::Csv ? "%.6f" : "%.4f", r.summary.stages[k].mean_seconds);
                 }});
  }
  c.push_back({{"total s (min–max)", "total_s,total_s_min,total_s_max", "Total (s)"}, total_cell});
  c.push_back({{"tokens", "tokens", ""}, [](const MethodRow& r, Fmt f) {
                 return format(f == Fmt::Csv ? "%.3f" : "%.1f", r.summary.mean_tokens);
               }});
  c.push_back({{"speedup [95% CI]", "speedup,speedup_low,speedup_high", "Speedup"}, speedup_cell});
  c.push_back({{"predicted speedup", "predicted_speedup", "Predicted"},
               [](const MethodRow& r, Fmt f) { return ratio_cell(r.predicted_speedup(), f); }});
  add_csv(c, "predicted_s", [](const MethodRow& r) { return format("%.6f", r.predicted_seconds); });
  c.push_back({{"FLOPs speedup", "cost_speedup", "FLOPs"},
               [](const MethodRow& r, Fmt f) { return ratio_cell(r.cost_speedup(), f); }});
  add_csv(c, "flops", [](const MethodRow& r) { return format("%.6g", r.summary.mean_cost.flops); });
  c.push_back({{"too long", "prompt_too_long", ""},
               [](const MethodRow& r, Fmt) { return std::to_string(r.summary.prompt_too_long); }});
  for (StageKind k : kStages)
    add_csv(c, std::string(to_string(k)) + "_share",
            [k](const MethodRow& r) { return format("%.4f", r.summary.stages[k].share); });
  add_csv(c, "unparsed", [](const MethodRow& r) { return std::to_string(r.summary.unparsed); });
  add_csv(c, "examples", [](const MethodRow& r) { return std::to_string(r.summary.examples); });
  add_csv(c, "held_to_target", [](const MethodRow& r) { return std::string(r.unconstrained ? "no" : "yes"); });
  add_csv(c, "skip", [](const MethodRow& r) { return csv_quote(r.skip); });
  add_csv(c, "early_exit", [](const MethodRow& r) { return csv_quote(r.early_exit); });
  add_csv(c, "speculative", [](const MethodRow& r) { return csv_quote(r.speculative); });
  c.push_back({{"tokens per verify", "tokens_per_verify", ""}, [](const MethodRow& r, Fmt) { return tokens_per_verify(r); }});
  return c;
}

const std::vector<Column>& columns() {
  static const std::vector<Column> c = make_columns();
  return c;
}

// One table's header cells and each row's cells, in column order.
std::vector<std::string> header_cells(Fmt f) {
  std::vector<std::string> out;
  for (const auto& col : columns())
    if (!col.header[static_cast<size_t>(f)].empty()) out.push_back(col.header[static_cast<size_t>(f)]);
  return out;
}

std::vector<std::string> row_cells(const MethodRow& r, Fmt f) {
  std::vector<std::string> out;
  for (const auto& col : columns())
    if (!col.header[static_cast<size_t>(f)].empty()) out.push_back(col.cell(r, f));
  return out;
}

}  // namespace

std::string table_markdown(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  if (!caption.empty()) o << "**" << caption << "**\n\n";
  const auto headers = header_cells(Fmt::Md);
  o << "| " << join(headers, " | ") << " |\n|---|";
  for (size_t i = 1; i < headers.size(); ++i) o << "---:|";
  o << "\n";
  bool dagger = false;
  for (const auto& r : rows) {
    dagger = dagger || r.unconstrained;
    o << "| " << join(row_cells(r, Fmt::Md), " | ") << " |\n";
  }
  o << "\npredicted speedup: the latency model's, from the deterministic cost (docs/methods.md, \"Cost\"); "
       "FLOPs speedup: the FLOPs ratio; tokens per verify: speculative rows' tokens per verify forward "
       "(recall/analyze/summarize).\n";
  if (dagger) o << "\n† not held to the accuracy target.\n";
  o << "\nSettings per method:\n\n";
  for (const auto& r : rows)
    o << "- " << r.label << ": skip " << r.skip << "; early exit " << r.early_exit
      << (r.speculative == "off" ? "" : "; speculative " + r.speculative) << "\n";
  return o.str();
}

std::string table_csv(const std::vector<MethodRow>& rows) {
  std::string out = join(header_cells(Fmt::Csv), ",") + "\n";
  for (const auto& r : rows) out += join(row_cells(r, Fmt::Csv), ",") + "\n";
  return out;
}

std::string table_latex(const std::vector<MethodRow>& rows, const std::string& caption) {
  std::ostringstream o;
  const auto headers = header_cells(Fmt::Tex);
  o << "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l" << std::string(headers.size() - 1, 'r')
    << "}\n\\toprule\n" << join(headers, " & ") << " \\\\\n\\midrule\n";
  for (const auto& r : rows) o << join(row_cells(r, Fmt::Tex), " & ") << " \\\\\n";
  o << "\\bottomrule\n\\end{tabular}\n\\caption{" << latex_escape(caption) << "}\n\\end{table}\n";
  return o.str();
}

void write_tables(const std::vector<MethodRow>& rows, const std::string& dir, const std::string& stem,
                  const std::string& caption) {
  write_file_atomic(dir + "/" + stem + ".md", table_markdown(rows, caption));
  write_file_atomic(dir + "/" + stem + ".csv", table_csv(rows));
  write_file_atomic(dir + "/" + stem + ".tex", table_latex(rows, caption));
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

namespace {

// Writes the script, runs it for PNG and SVG when gnuplot exists; returns the files written.
std::vector<std::string> render(const std::string& dir, const std::string& stem, const std::string& data,
                                const std::string& body) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  std::vector<std::string> files;
  write_file_atomic(dir + "/" + stem + ".dat", data);
  files.push_back(dir + "/" + stem + ".dat");
  std::string script = "# Re-plot with: gnuplot " + stem + ".gp (run inside this folder)\n"
                       "datafile = '" + stem + ".dat'\n"
                       "set terminal pngcairo size 1000,620 noenhanced font 'sans,11'\n"
                       "set output '" + stem + ".png'\n" + body +
                       "set terminal svg size 1000,620 noenhanced font 'sans,11'\n"
                       "set output '" + stem + ".svg'\nreplot\n";
  write_file_atomic(dir + "/" + stem + ".gp", script);
  files.push_back(dir + "/" + stem + ".gp");
  if (gnuplot_available()) {
    std::string cmd = "cd '" + dir + "' && gnuplot '" + stem + ".gp' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) {
      files.push_back(dir + "/" + stem + ".png");
      files.push_back(dir + "/" + stem + ".svg");
    }
  }
  return files;
}

}  // namespace

std::vector<std::string> plot_tradeoff(const std::vector<MethodRow>& rows, const std::string& dir) {
  // One data block per method (blank-line separated, gnuplot "index"), points sorted by speedup,
  // with the speedup's bootstrap interval and the accuracy's Wilson interval as error bars. Each
  // method has its own point shape and size, so methods at the same point stay visible.
  std::map<Method, std::vector<const MethodRow*>> by_method;
  std::vector<Method> order;
  for (const auto& r : rows) {
    if (!by_method.count(r.method)) order.push_back(r.method);
    by_method[r.method].push_back(&r);
  }
  std::ostringstream data;
  std::string plots;
  for (size_t i = 0; i < order.size(); ++i) {
    data << "# " << method_name(order[i]) << "\n# speedup accuracy(%) speedup_low speedup_high acc_low(%) acc_high(%) label\n";
    auto pts = by_method[order[i]];
    std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->speedup() < b->speedup(); });
    for (const auto* r : pts) {
      const Interval a = r->accuracy_ci();
      const bool ci = r->speedup_ci.high > 0;
      data << format("%.4f", r->speedup()) << " " << format("%.3f", 100 * r->summary.accuracy) << " "
           << format("%.4f", ci ? r->speedup_ci.low : r->speedup()) << " " << format("%.4f", ci ? r->speedup_ci.high : r->speedup())
           << " " << format("%.3f", 100 * a.low) << " " << format("%.3f", 100 * a.high) << " \"" << r->label << "\"\n";
    }
    data << "\n\n";
    const std::string index = "datafile index " + std::to_string(i);
    const std::string style = "lc " + std::to_string(i + 1) + " pt " + std::to_string(4 + 2 * (i % 6)) + " ps " +
                              format("%.2f", 2.2 - 0.2 * static_cast<double>(i % 6));
    plots += std::string(i ? ", \\\n     " : "plot ") + index + " using 1:2:3:4:5:6 with xyerrorbars " + style +
             " title '" + method_name(order[i]) + "', \\\n     " + index + " using 1:2 with lines lc " + std::to_string(i + 1) +
             " notitle";
  }
  std::string body = "set title 'Accuracy vs. speedup (bars: 95% intervals)'\n"
                     "set xlabel 'speedup over the full model (x)'\nset ylabel 'accuracy (%)'\nset grid\n"
                     "set key outside right top\nset offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n" +
                     plots + "\n";
  return render(dir, "tradeoff", data.str(), body);
}

std::vector<std::string> plot_sweep(const SearchResult& search, const std::string& dir, const std::string& stem) {
  std::ostringstream data;
  std::vector<std::string> stages;
  for (const auto& row : search.sweep)
    if (std::find(stages.begin(), stages.end(), row.stage) == stages.end()) stages.push_back(row.stage);
  // The right panel shows what the search compared: measured latency when the sweep was timed,
  // else (search.latency: cost) the latency model's prediction from the deterministic cost.
  const bool timed = std::any_of(search.sweep.begin(), search.sweep.end(),
                                 [](const SweepRow& r) { return r.point.timing.measured(); });
  for (const auto& st : stages) {
    data << "# stage " << st << "\n# k accuracy(%) latency(s) tokens chosen GFLOPs predicted(s)\n";
    for (const auto& row : search.sweep)
      if (row.stage == st)
        data << row.k << " " << format("%.3f", 100 * row.point.accuracy) << " " << format("%.5f", row.point.latency) << " "
             << format("%.2f", row.point.tokens) << " " << (row.chosen ? 1 : 0) << " " << format("%.6f", row.point.flops / 1e9)
             << " " << format("%.6f", row.point.predicted) << "\n";
    data << "\n\n";
  }
  std::string acc, lat;
  for (size_t i = 0; i < stages.size(); ++i) {
    acc += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) +
           " using 1:2 with linespoints pt 7 title '" + stages[i] + "'";
    lat += std::string(i ? ", " : "plot ") + "datafile index " + std::to_string(i) + " using 1:" +
           (timed ? "3" : "7") + " with linespoints pt 7 title '" + stages[i] + "'";
  }
  std::string body = "set multiplot layout 1,2 title 'Stage-wise sweep (" + method_name(search.method) + ")'\n"
                     "set xlabel 'k (sub-layers skipped in the stage)'\nset grid\n"
                     "set ylabel 'accuracy (%)'\nset arrow from graph 0, first " + format("%.3f", 100 * search.target) +
                     " to graph 1, first " + format("%.3f", 100 * search.target) + " nohead dt 2\n" + acc +
                     "\nunset arrow\nset ylabel '" +
                     (timed ? std::string("latency per question (s, median of the timed passes)")
                            : std::string("predicted latency per question (s, the latency model)")) +
                     "'\n" + lat + "\nunset multiplot\n";
  return render(dir, stem, data.str(), body);
}

std::vector<std::string> plot_importance(const ImportanceResult& imp, const std::string& dir) {
  // Matrix: rows = (stage, kind) pairs, columns = layers; the value is 1 - cos(in, out) on a log
  // colour scale: what the ranking orders by, and a linear cos scale would paint every
  // near-identity sub-layer the same colour although they differ by orders of magnitude.
  std::ostringstream data;
  std::vector<std::string> rows;
  for (StageKind kind : imp.measured_stages()) {
    const auto& st = imp.stages[kind];
    for (int k = 0; k < 2; ++k) {
      rows.push_back(std::string(to_string(kind)) + (k == 0 ? " attn" : " ffn"));
      const auto& v = k == 0 ? st.attn : st.ffn;
      for (size_t l = 0; l < v.size(); ++l) data << (l ? " " : "") << format("%.3e", std::max(1e-6, 1.0 - v[l]));
      data << "\n";
    }
  }
  std::string ytics;
  for (size_t i = 0; i < rows.size(); ++i) ytics += (i ? ", " : "") + std::string("'") + rows[i] + "' " + std::to_string(i);
  std::string body = "set title 'Sub-layer change 1 - cos(in, out) per stage (low = redundant, skipped first)'\n"
                     "set xlabel 'layer'\nset ytics (" + ytics + ")\nset cblabel '1 - cos (log scale)'\n"
                     "set logscale cb\nset format cb '%.0e'\nset palette rgb 33,13,10\nset xrange [-0.5:" +
                     std::to_string(imp.layers - 0.5) + "]\nset yrange [-0.5:" + std::to_string(rows.size() - 0.5) +
                     "]\nset xtics 1\nplot datafile matrix with image notitle\n";
  return render(dir, "importance", data.str(), body);
}

}  // namespace litestage

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.lucene.util.automaton.CharacterRunAutomaton;
import org.apache.lucene.util.automaton.RegExp;

/**
 * Lucene's own verdict on regular expressions, for the sigma-okta tests.
 *
 * <p>stdin: groups separated by U+001E; in a group, fields separated by U+0000: a pattern, then the
 * texts to match it against. stdout, one line per group: "ok" and a 1 or 0 per text (whether the
 * whole text matches, as ES|QL's RLIKE does), or "error: " and Lucene's parse error.
 */
public class LuceneRegexpCheck {
  public static void main(String[] args) throws Exception {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    System.in.transferTo(buffer);
    String all = buffer.toString(StandardCharsets.UTF_8);
    if (all.isEmpty()) return;
    StringBuilder out = new StringBuilder();
    for (String group : all.split("\u001e", -1)) {
      String[] fields = group.split("\u0000", -1);
      try {
        CharacterRunAutomaton automaton =
            new CharacterRunAutomaton(new RegExp(fields[0]).toAutomaton());
        out.append("ok ");
        for (int i = 1; i < fields.length; i++) out.append(automaton.run(fields[i]) ? '1' : '0');
      } catch (IllegalArgumentException e) {
        out.append("error: ").append(String.valueOf(e.getMessage()).replace('\n', ' '));
      }
      out.append('\n');
    }
    System.out.print(out);
  }
}

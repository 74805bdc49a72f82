package demo.text

import scala.collection.mutable
import scala.io.Source

/** Counts words in text files and reports the most frequent ones. */
trait Tokenizer {
  def tokens(line: String): Seq[String]
}

object SimpleTokenizer extends Tokenizer {
  private val word = "[\\p{L}\\p{N}']+".r

  def tokens(line: String): Seq[String] =
    word.findAllIn(line.toLowerCase).toSeq
}

case class Count(word: String, n: Int)

class WordCounter(tokenizer: Tokenizer) {
  private val counts = mutable.HashMap.empty[String, Int]

  def add(line: String): Unit =
    tokenizer.tokens(line).foreach { w =>
      counts.update(w, counts.getOrElse(w, 0) + 1)
    }

  def top(k: Int): List[Count] =
    counts.toList
      .map { case (w, n) => Count(w, n) }
      .sortBy(c => (-c.n, c.word))
      .take(k)

  def total: Int = counts.values.sum
}

enum Format {
  case Plain, Csv
}

object WordCount {
  def render(counts: List[Count], format: Format): String = format match {
    case Format.Plain => counts.map(c => f"${c.n}%6d ${c.word}").mkString("\n")
    case Format.Csv   => counts.map(c => s"${c.word},${c.n}").mkString("\n")
  }

  def main(args: Array[String]): Unit = {
    val counter = new WordCounter(SimpleTokenizer)
    for (path <- args) {
      val source = Source.fromFile(path)
      try source.getLines().foreach(counter.add)
      finally source.close()
    }
    println(render(counter.top(10), Format.Plain))
    println(s"total: ${counter.total}")
  }
}

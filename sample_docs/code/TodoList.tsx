import React, { useCallback, useMemo, useState } from "react";

export interface Todo {
  id: number;
  title: string;
  done: boolean;
}

type Filter = "all" | "open" | "done";

interface TodoItemProps {
  todo: Todo;
  onToggle: (id: number) => void;
  onRemove: (id: number) => void;
}

function TodoItem({ todo, onToggle, onRemove }: TodoItemProps) {
  return (
    <li className={todo.done ? "todo done" : "todo"}>
      <label>
        <input type="checkbox" checked={todo.done} onChange={() => onToggle(todo.id)} />
        {todo.title}
      </label>
      <button aria-label={`remove ${todo.title}`} onClick={() => onRemove(todo.id)}>
        ×
      </button>
    </li>
  );
}

const FILTERS: Record<Filter, (t: Todo) => boolean> = {
  all: () => true,
  open: (t) => !t.done,
  done: (t) => t.done,
};

export const useTodos = (initial: Todo[] = []) => {
  const [todos, setTodos] = useState<Todo[]>(initial);
  const add = useCallback((title: string) => {
    setTodos((prev) => [...prev, { id: Date.now(), title, done: false }]);
  }, []);
  const toggle = useCallback((id: number) => {
    setTodos((prev) => prev.map((t) => (t.id === id ? { ...t, done: !t.done } : t)));
  }, []);
  const remove = useCallback((id: number) => {
    setTodos((prev) => prev.filter((t) => t.id !== id));
  }, []);
  return { todos, add, toggle, remove };
};

export default function TodoList({ initial }: { initial?: Todo[] }) {
  const { todos, add, toggle, remove } = useTodos(initial);
  const [filter, setFilter] = useState<Filter>("all");
  const [draft, setDraft] = useState("");
  const visible = useMemo(() => todos.filter(FILTERS[filter]), [todos, filter]);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (draft.trim()) {
      add(draft.trim());
      setDraft("");
    }
  };

  return (
    <section>
      <form onSubmit={submit}>
        <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="New todo" />
        <button type="submit">Add</button>
      </form>
      <nav>
        {(Object.keys(FILTERS) as Filter[]).map((f) => (
          <button key={f} disabled={f === filter} onClick={() => setFilter(f)}>
            {f}
          </button>
        ))}
      </nav>
      <ul>
        {visible.map((t) => (
          <TodoItem key={t.id} todo={t} onToggle={toggle} onRemove={remove} />
        ))}
      </ul>
      <p>{todos.filter((t) => !t.done).length} open</p>
    </section>
  );
}

// The Python side of python_eval, run as `python3 -I -S -c <this>` with the expression on stdin.
// It parses the expression with `ast`, walks EVERY node against a whitelist, and only then
// evaluates it with no builtins but the safe ones. One JSON line on stdout is the answer.
// Kept as a TS string so the build ships it without asset copying.

export const PYTHON_EVAL_SCRIPT = String.raw`
import ast, json, sys

SAFE_FUNCS = {
    'abs': abs, 'all': all, 'any': any, 'bin': bin, 'bool': bool, 'chr': chr, 'dict': dict,
    'divmod': divmod, 'enumerate': enumerate, 'filter': filter, 'float': float, 'hex': hex,
    'int': int, 'len': len, 'list': list, 'map': map, 'max': max, 'min': min, 'oct': oct,
    'ord': ord, 'pow': pow, 'range': range, 'reversed': reversed, 'round': round, 'set': set,
    'sorted': sorted, 'str': str, 'sum': sum, 'tuple': tuple, 'zip': zip, 'frozenset': frozenset,
}
SAFE_CONSTS = {'True': True, 'False': False, 'None': None}
# methods of str/list/dict/int that cannot reach objects outside the value
# (str.format is NOT here: "{0.__class__}".format(x) walks attributes)
SAFE_METHODS = {
    'upper', 'lower', 'strip', 'lstrip', 'rstrip', 'split', 'rsplit', 'join', 'replace',
    'startswith', 'endswith', 'count', 'index', 'find', 'rfind', 'title', 'capitalize',
    'isdigit', 'isalpha', 'isalnum', 'isspace', 'zfill', 'center', 'ljust', 'rjust',
    'keys', 'values', 'items', 'get', 'bit_length', 'real', 'imag', 'conjugate',
    'is_integer', 'as_integer_ratio', 'copy', 'union', 'intersection', 'difference',
    'issubset', 'issuperset',
}
ALLOWED = (
    ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp,
    ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.comprehension, ast.Name, ast.Load, ast.Store, ast.Call, ast.keyword,
    ast.Subscript, ast.Slice, ast.Starred, ast.Attribute, ast.JoinedStr, ast.FormattedValue,
    ast.Lambda, ast.arguments, ast.arg,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.MatMult,
    ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd,
    ast.UAdd, ast.USub, ast.Not, ast.Invert, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)
MAX_NODES = 10000
MAX_RESULT = 4000000  # bytes of JSON; the node reads no more than this back

class Refused(Exception):
    pass

def bound_names(tree):
    # names a comprehension or lambda binds may be read inside the expression
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names

def check(tree):
    count = 0
    local = bound_names(tree)
    for node in ast.walk(tree):
        count += 1
        if count > MAX_NODES:
            raise Refused('expression is too large (more than %d syntax nodes)' % MAX_NODES)
        if not isinstance(node, ALLOWED):
            raise Refused('%s is not allowed' % type(node).__name__)
        if isinstance(node, ast.Name):
            if node.id.startswith('__'):
                raise Refused('name %s is not allowed' % node.id)
            if isinstance(node.ctx, ast.Load) and node.id not in SAFE_FUNCS and node.id not in SAFE_CONSTS and node.id not in local:
                raise Refused('name %s is not allowed (only safe builtins: %s)' % (node.id, ', '.join(sorted(SAFE_FUNCS))))
        elif isinstance(node, ast.arg):
            if node.arg.startswith('__'):
                raise Refused('name %s is not allowed' % node.arg)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith('_'):
                raise Refused('attribute %s is not allowed' % node.attr)
            if node.attr not in SAFE_METHODS:
                raise Refused('attribute %s is not allowed' % node.attr)
        elif isinstance(node, ast.Call):
            f = node.func
            if not ((isinstance(f, ast.Name) and (f.id in SAFE_FUNCS or f.id in local)) or isinstance(f, ast.Attribute)):
                raise Refused('only calls to safe builtins and safe methods are allowed')
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str) and len(node.value) > 100000:
                raise Refused('string literal too long')

def to_json(v):
    try:
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2 ** 53:
            return {'value': str(v)}
        if isinstance(v, (range, map, filter, zip, reversed, enumerate, set, frozenset)) or type(v).__name__ == 'generator':
            v = list(v) if not isinstance(v, (set, frozenset)) else sorted(v, key=repr)
        s = json.dumps(v, allow_nan=False)
        if len(s) > MAX_RESULT:
            raise Refused('result is %d bytes of JSON, over the limit of %d' % (len(s), MAX_RESULT))
        return {'value': v}
    except (TypeError, ValueError, OverflowError):
        return {'value': repr(v)[:100000]}

def answer(obj):
    sys.stdout.write(json.dumps(obj))
    sys.stdout.flush()

def main():
    src = sys.stdin.read()
    try:
        tree = ast.parse(src, mode='eval')
    except SyntaxError as e:
        return answer({'ok': False, 'type': 'invalid_payload', 'message': 'payload.expression: syntax error: %s' % e.msg})
    try:
        check(tree)
    except Refused as e:
        return answer({'ok': False, 'type': 'permission_denied', 'message': 'python_eval refused: %s' % e})
    try:
        code = compile(tree, '<expression>', 'eval')
        # safe names go in globals: comprehension scopes do not see an eval's locals
        env = {'__builtins__': {}}
        env.update(SAFE_FUNCS)
        env.update(SAFE_CONSTS)
        value = eval(code, env)
        out = to_json(value)
    except Refused as e:
        return answer({'ok': False, 'type': 'execution_error', 'message': 'python_eval: %s' % e})
    except MemoryError:
        return answer({'ok': False, 'type': 'resource_exhausted', 'message': 'python_eval ran out of its memory limit'})
    except RecursionError as e:
        return answer({'ok': False, 'type': 'execution_error', 'message': 'RecursionError: %s' % e})
    except Exception as e:
        return answer({'ok': False, 'type': 'execution_error', 'message': '%s: %s' % (type(e).__name__, e)})
    out['ok'] = True
    answer(out)

main()
`
